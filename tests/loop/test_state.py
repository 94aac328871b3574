"""The run's budgets (agent/loop/state.py `Run.check_budgets`)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.recording import RecordingEngine
from tests.scripts import (
    PLAN,
    run_fix,
    turns,
)


def test_no_step_is_started_that_would_end_past_the_time_budget(user_repo: Path) -> None:
    reads = [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "stats.py", "start_line": n}}]}
        for n in range(1, 6)
    ]
    engine = RecordingEngine(turns(PLAN, *reads), seconds=0.5)
    started = time.monotonic()
    report, events = run_fix(user_repo, engine, max_minutes=1.8 / 60, test_after_edit=False)
    # plan 0.5 s + 2 steps of ~0.5 s leave ~0.3 s: too little for another step, so none is started
    assert report.stop_reason == "max_time" and report.steps in (1, 2)
    assert any("nearly used up" in getattr(e, "message", "") for e in events), report.notices
    assert time.monotonic() - started < 1.8 + 5  # the loop within its budget (+ worktree setup, report)
