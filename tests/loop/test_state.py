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
        for n in range(1, 13)
    ]
    engine = RecordingEngine(turns(PLAN, *reads), seconds=0.5)
    started = time.monotonic()
    report, events = run_fix(user_repo, engine, max_minutes=5 / 60, test_after_edit=False)
    # the plan and a few steps of ~0.5 s fit in 5 s (after the baseline test run, however slow
    # the machine); the twelve reads do not, and the step that would end past the budget is never started
    assert report.stop_reason == "max_time" and 1 <= report.steps < 12
    assert any("nearly used up" in getattr(e, "message", "") for e in events), report.notices
    assert time.monotonic() - started < 5 + 5  # the loop within its budget (+ worktree setup, report)
