"""End-to-end benchmark: `agent fix` on every task of ../shared/minibugs, each in a fresh copy.

    python tests/bench/bench_minibugs.py --models qwen2.5-coder-1.5b qwen2.5-coder-0.5b \
        [--tasks ID ...] [--minutes 12] [--json results.json]

For each model and task: materialise the task as a git repository, run `agent fix "<issue>"
--json` as a subprocess, apply the agent's branch, restore the task's test files and score it
with the task's own `--eval`. Prints a table and writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.minibugs import MiniBug, load_tasks, materialize, score


def run_agent(task: MiniBug, model: str, repo: Path, minutes: float) -> tuple[dict[str, Any], float]:
    cmd = [
        sys.executable,
        "-m",
        "agent.cli",
        "fix",
        task.issue,
        "--model",
        model,
        "--json",
        "--max-minutes",
        str(minutes),
    ]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=minutes * 60 + 120,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {"status": "hang", "stop_reason": "killed by the benchmark"}, time.monotonic() - started
    wall = time.monotonic() - started
    (repo.parent / "agent.stderr").write_text(proc.stderr)
    try:
        return json.loads(proc.stdout), wall
    except json.JSONDecodeError:
        return {"status": "crash", "stop_reason": proc.stderr[-300:]}, wall


def bench_one(task: MiniBug, model: str, minutes: float, keep: Path | None) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"bench-{task.id}-", dir=keep))
    repo = materialize(task, base / "repo")
    report, wall = run_agent(task, model, repo, minutes)
    if report.get("branch"):
        subprocess.run(
            [sys.executable, "-m", "agent.cli", "apply", report["branch"]], cwd=repo, capture_output=True
        )
    usage = report.get("usage") or {}
    return {
        "model": Path(model).name,
        "task": task.id,
        "resolved": score(task, repo),
        "status": report.get("status"),
        "stop_reason": report.get("stop_reason"),
        "wall_s": round(wall, 1),
        "turns": report.get("steps", 0),
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "prefilled_tokens": usage.get("prefilled_tokens", 0),
        "generated_tokens": usage.get("generated_tokens", 0),
        "tool_errors": sum((report.get("model_errors") or {}).values()),
        "session": report.get("trajectory_path"),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = [
        "model",
        "task",
        "resolved",
        "wall_s",
        "turns",
        "prompt_tokens",
        "prefilled_tokens",
        "generated_tokens",
        "tool_errors",
        "stop_reason",
    ]
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(row.get(c)) for c in cols))
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        print(
            f"{model}: resolved {sum(r['resolved'] for r in mine)}/{len(mine)}, median wall "
            f"{statistics.median(r['wall_s'] for r in mine):.0f}s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"])
    parser.add_argument("--tasks", nargs="*", help="task ids (default: all)")
    parser.add_argument("--minutes", type=float, default=12.0, help="time budget per task")
    parser.add_argument("--json", type=Path, default=Path("minibugs-results.json"))
    parser.add_argument("--keep", type=Path, help="keep the task repositories under this directory")
    args = parser.parse_args()
    tasks = [t for t in load_tasks() if not args.tasks or t.id in args.tasks]
    rows: list[dict[str, Any]] = []
    for model in args.models:
        for task in tasks:
            row = bench_one(task, model, args.minutes, args.keep)
            rows.append(row)
            print(json.dumps(row), flush=True)
            args.json.write_text(json.dumps(rows, indent=2))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
