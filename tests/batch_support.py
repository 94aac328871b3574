"""Task files of median repositories, and `agent batch`/`agent eval` runs and their results."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.commands import AGENT
from tests.repos import median_repo

EVAL_DIR = Path(os.environ.get("EVAL_DIR") or Path(__file__).resolve().parents[2] / "shared" / "eval")


def median_tasks(root: Path, count: int) -> Path:
    lines = []
    for i in range(count):
        median_repo(root / f"repo{i}")
        task = {
            "instance_id": f"median-{i}",
            "problem_statement": "median([1, 2, 3, 4]) returns 3, it should be 2.5",
            "repo": f"repo{i}",
            "fail_to_pass": ["test_stats.py::test_even"],
            "pass_to_pass": ["test_stats.py::test_odd"],
        }
        lines.append(json.dumps(task))
    path = root / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def agent(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))}
