"""End-to-end benchmark: `agent fix` on every task of ../shared/minibugs, each in a fresh copy.

    python tests/bench/bench_minibugs.py --models qwen2.5-coder-1.5b qwen2.5-coder-0.5b \
        [--tasks ID ...] [--minutes 12] [--variants failing-test issue-only] [--json results.json]

For each model, variant and task: materialise the task as a git repository, run `agent fix
"<issue>" --json` as a subprocess, apply the agent's branch, restore the task's test files and
score it with the task's own `--eval`. The `issue-only` variant is built on the fly with
`make_issue_only.py` (the failing tests are taken out of the repository the agent sees and put
back only to score), as most real issues arrive. Prints a table with the agent's own verdict next
to the task's score, the variants side by side, and counts the verdicts the score refutes (a
`resolved` claim whose task tests fail must be 0). Writes the rows as JSON.
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

from agent.cli.headless import report_from_stream
from tests.bench.charts import write_chart
from tests.bench.minibugs import MiniBug, issue_only_dir, load_tasks, materialize, minibugs_dir, score
from tests.bench.peer import llama_server, run_mini


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
        return report_from_stream(proc.stdout), wall
    except (ValueError, KeyError):
        return {"status": "crash", "stop_reason": proc.stderr[-300:]}, wall


def bench_one(
    task: MiniBug, model: str, minutes: float, keep: Path | None, variant: str, root: Path
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"bench-{task.id}-", dir=keep))
    repo = materialize(task, base / "repo", root)
    report, wall = run_agent(task, model, repo, minutes)
    if report.get("branch"):
        subprocess.run(
            [sys.executable, "-m", "agent.cli", "apply", report["branch"]], cwd=repo, capture_output=True
        )
    usage = report.get("usage") or {}
    reproduction = report.get("reproduction") or {}
    return {
        "model": Path(model).name,
        "variant": variant,
        "task": task.id,
        "resolved": score(task, repo, root),
        "status": report.get("status"),
        "verdict": report.get("verdict", ""),
        "reproduced": bool(reproduction.get("kept")),
        "special_cased": report.get("special_cased", ""),
        "stop_reason": report.get("stop_reason"),
        "wall_s": round(wall, 1),
        "turns": report.get("steps", 0),
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "prefilled_tokens": usage.get("prefilled_tokens", 0),
        "generated_tokens": usage.get("generated_tokens", 0),
        "tool_errors": sum((report.get("model_errors") or {}).values()),
        "session": report.get("trajectory_path"),
    }


def model_path(model: str) -> Path:
    if Path(model).is_file():
        return Path(model)
    from agent.models import pull

    return pull(model, use_hub=False)


def bench_peer(
    tasks: list[MiniBug], model: str, peer_venv: Path, minutes: float, keep: Path | None
) -> list[dict[str, Any]]:
    """mini-swe-agent on the same tasks, against llama_cpp.server serving the same GGUF."""
    rows = []
    base = Path(tempfile.mkdtemp(prefix="bench-peer-", dir=keep))
    with llama_server(model_path(model), base / "server.log") as url:
        for task in tasks:
            repo = materialize(task, base / task.id / "repo")
            result = run_mini(peer_venv, task.issue, repo, url, minutes)
            row = {
                "model": f"mini-swe-agent/{Path(model).name}",
                "task": task.id,
                "resolved": score(task, repo),
                **result,
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = [
        "model",
        "variant",
        "task",
        "resolved",
        "status",
        "reproduced",
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
        print(" | ".join(str(row.get(c, "")) for c in cols))
    for model in sorted({r["model"] for r in rows}):
        for variant in sorted({r.get("variant", "failing-test") for r in rows}):
            mine = [r for r in rows if r["model"] == model and r.get("variant", "failing-test") == variant]
            if mine:
                print(summary_line(model, variant, mine))


def summary_line(model: str, variant: str, rows: list[dict[str, Any]]) -> str:
    """Resolved (by the task's tests), median wall time, and the agent's verdicts against them."""
    resolved = sum(bool(r["resolved"]) for r in rows)
    claimed = [r for r in rows if r.get("status") == "resolved"]
    refuted = sum(not r["resolved"] for r in claimed)
    missed = sum(bool(r["resolved"]) for r in rows if r.get("status") != "resolved")
    unverified = sum(r.get("status") == "unverified" for r in rows)
    return (
        f"{model} [{variant}]: resolved {resolved}/{len(rows)}, median wall "
        f"{statistics.median(r['wall_s'] for r in rows):.0f}s; agent said resolved {len(claimed)} "
        f"(refuted by the task's tests: {refuted}), unverified {unverified}, "
        f"fixed but not claimed {missed}"
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
    parser.add_argument("--peer-venv", type=Path, help="also run mini-swe-agent from this virtualenv")
    parser.add_argument("--peer-only", action="store_true", help="run only the peer")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=["failing-test", "issue-only"],
        default=["failing-test"],
        help="failing-test: the task as it is; issue-only: its failing tests taken out (both: side by side)",
    )
    parser.add_argument("--issue-only", action="store_true", help="the same as --variants issue-only")
    args = parser.parse_args()
    variants = ["issue-only"] if args.issue_only else args.variants
    tasks = [t for t in load_tasks() if not args.tasks or t.id in args.tasks]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for model in args.models:
        for variant in variants if not args.peer_only else []:
            root = issue_only_dir() if variant == "issue-only" else minibugs_dir()
            for task in tasks:
                row = bench_one(task, model, args.minutes, args.keep, variant, root)
                rows.append(row)
                print(json.dumps(row), flush=True)
                args.json.write_text(json.dumps(rows, indent=2))
        if args.peer_venv:
            rows += bench_peer(tasks, model, args.peer_venv, args.minutes, args.keep)
            args.json.write_text(json.dumps(rows, indent=2))
    print_table(rows)
    if rows:
        print(f"chart: {write_chart(args.json, 'minibugs')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
