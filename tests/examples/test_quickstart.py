"""The quickstart's example script, as a new user runs it (examples/run-example.sh): it gives the
example its own .venv with pytest from PyPI, and the agent's first test run there reports real test
counts through that interpreter, not a missing pytest. The scripted engine stands in for the model
(the README's quickstart pulls the 1.5B; the engine is not what this checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.events import RUN_EVENT_ADAPTER, RunFinished
from tests.paths import ROOT


def test_the_example_script_leaves_the_example_able_to_run_its_tests(tmp_path: Path) -> None:
    script = tmp_path / "model.json"
    script.write_text(json.dumps([{"text": "1. Read the parser\n2. Fix it"}, {"text": "Nothing to do."}]))
    bin_dir = str(Path(sys.executable).parent)  # `agent` as the install put it on PATH
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VIRTUAL_ENV")}
    env |= {"PATH": f"{bin_dir}:{env.get('PATH', '')}", "PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [
            "bash",
            str(ROOT / "examples" / "run-example.sh"),
            "--script",
            str(script),
            "--json",
            "--max-steps",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert "test environment:" in run.stderr, run.stderr[-3000:]
    assert "No module named pytest" not in run.stdout + run.stderr
    events = [RUN_EVENT_ADAPTER.validate_json(line) for line in run.stdout.splitlines()]
    last = events[-1]
    assert isinstance(last, RunFinished), run.stderr[-3000:]
    tests = last.report["tests"]
    assert tests["ran"] and tests["passed"] > 0 and tests["failed"] > 0, tests  # the bug shows
    found = last.report["test_env"]
    assert found["interpreter"].endswith("dateparse/.venv/bin/python") and found["pytest"], found
