"""`agent eval --oracle` on two real tasks of ../shared/eval, materialised now from PyPI sdists: the
harness, the edit tools, the sandbox and the test runner on real projects. All 20 tasks:
`python tests/bench/bench_eval_oracle.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.batch_support import EVAL_DIR

TASKS = ["sqlparse-strip-comments-whitespace", "tomlkit-extra-minus-sign"]  # two gold files; hunks


def test_oracle_resolves_real_tasks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "agent.cli", "eval", str(EVAL_DIR), "--oracle", "--workers", "2"]
    run = subprocess.run(
        [*command, "--only", *TASKS, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "resolved: 2/2 (100.0%)" in run.stdout, run.stdout
    for task in TASKS:
        result = json.loads((out / "results" / f"{task}.json").read_text())
        assert result["resolved"] and result["failed_tests"] == []
        assert result["report"]["tests"]["ran"]  # the agent's own run_tests ran in the task's venv
        assert ".task/venv/bin/python -m pytest" in result["report"]["tests"]["command"]
        assert result["report"]["tests"]["exit_code"] != 127  # the task's venv is readable in the sandbox
        edits = [
            json.loads(line)
            for line in (out / "tasks" / task / "events.jsonl").read_text().splitlines()
            if '"kind":"tool_finished"' in line and '"name":"edit_file"' in line
        ]
        assert edits and all(e["ok"] for e in edits)
        task_dir = out / "tasks" / task / "repo" / ".task"  # the agent never saw the gold or the test ids
        assert (task_dir / "venv").is_dir() and not (task_dir / "gold").exists()
        assert not (task_dir / "task.json").exists()
