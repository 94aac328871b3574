"""The evaluation harness on every task of ../shared/eval, with the oracle engine.

    python tests/bench/bench_eval_oracle.py [--workers 2] [--out DIR] [--only ID ...]

Runs `agent eval ../shared/eval --oracle`: each task is materialised from its PyPI sdists, its test
venv built, the reference fix replayed through the agent's own edit tools in a sandboxed worktree,
and the task's fail_to_pass and pass_to_pass tests run. Every task must come out resolved by its
tests AND reported `resolved` by the agent itself (a correct fix it calls a failure is a verdict
bug); prints the table and exits non-zero otherwise. Needs PyPI (pip downloads); ~1 min per task on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT.parent / "shared" / "eval"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="output folder (default: a new temporary folder)")
    parser.add_argument("--only", nargs="+", metavar="ID")
    parser.add_argument("--tasks", type=Path, default=EVAL_DIR)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-eval-oracle-"))
    command = [sys.executable, "-m", "agent.cli", "eval", str(args.tasks), "--oracle"]
    command += ["--workers", str(args.workers), "--out", str(out)]
    command += ["--only", *args.only] if args.only else []
    started = time.monotonic()
    run = subprocess.run(command, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    print(run.stdout, end="")
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    results = summary.get("results", {})
    resolved = sum(bool(r.get("resolved")) for r in results.values())
    claimed = sum(r.get("status") == "resolved" for r in results.values())
    for task, result in sorted(results.items()):
        if bool(result.get("resolved")) != (result.get("status") == "resolved"):
            tests, agent = result.get("resolved"), result.get("status")
            print(f"  verdict disagrees: {task}: tests resolved={tests}, agent {agent}")
    wall = time.monotonic() - started
    total = summary.get("tasks", "?")
    print(f"oracle eval: {resolved}/{total} resolved by their tests, {claimed}/{total} by the agent", end="")
    print(f", in {wall:.0f}s")
    print(f"output: {out}")
    everything = results and resolved == claimed == len(results) == summary.get("tasks")
    return 0 if run.returncode == 0 and everything else 1


if __name__ == "__main__":
    sys.exit(main())
