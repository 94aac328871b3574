"""Attempts (agent/loop/attempts.py): a stuck attempt set aside and started again, the best kept."""

from __future__ import annotations

from pathlib import Path

from tests.recording import RecordingEngine
from tests.repos import snapshot
from tests.scripts import (
    EDIT,
    FINISH,
    PLAN,
    READ,
    TEST,
    WRONG_EDIT,
    rename_edit,
    run_fix,
    turns,
)


def test_a_stuck_attempt_is_set_aside_and_the_next_one_starts_from_the_plan(user_repo: Path) -> None:
    before = snapshot(user_repo)
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]  # the 4th identical test run: stuck
    engine = RecordingEngine(turns(PLAN, *stuck, EDIT, TEST, FINISH))
    report, events = run_fix(user_repo, engine, max_steps=20, max_attempts=3)
    assert report.status == "resolved" and report.attempts == 2 and report.stop_reason == "finished"
    assert "middle = s" not in report.diff and "(s[mid - 1] + s[mid]) / 2" in report.diff
    first, retry = engine.conversations[1], engine.conversations[1 + len(stuck)]
    # the same opening (system, task, plan) so the KV cache keeps it; the act message says what failed
    assert [m.content for m in retry[:3]] == [m.content for m in first[:3]] and len(retry) == 4
    note = retry[3].content
    assert note.startswith("[Attempt 1 did not fix the issue") and note.endswith(first[3].content)
    assert "+    middle = s[len(s) // 2]" in note and "test_even" in note
    assert engine.temperatures[1 : 1 + len(stuck)] == [0.0] * 4 + [0.7] * 4  # after a repeat: sampled
    assert engine.temperatures[1 + len(stuck) :] == [0.7] * 3  # a new attempt is sampled throughout
    assert any("attempt 2 of 3" in getattr(e, "message", "") for e in events)
    journal = Path(report.trajectory_path or "").with_suffix(".edits").read_text()
    assert '"tool":"new_attempt"' in journal.replace(" ", "")  # `agent undo` can bring it back
    assert snapshot(user_repo) == before


def test_a_run_that_used_up_its_steps_is_not_started_again(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, TEST, READ, TEST))
    report, _ = run_fix(user_repo, engine, max_steps=4, max_attempts=3)
    assert report.stop_reason == "max_steps" and report.attempts == 1
    assert report.status == "not_resolved" and "middle = s" in report.diff


def test_an_attempt_that_does_not_improve_is_retried(user_repo: Path) -> None:
    edits = [rename_edit(i, i + 1) for i in range(3)]
    engine = RecordingEngine(turns(PLAN, *edits, EDIT, FINISH))
    report, _ = run_fix(user_repo, engine, max_steps=20, max_attempts=2)
    assert report.status == "resolved" and report.attempts == 2
    note = engine.conversations[-2][3].content  # the retried attempt starts told what happened
    assert "kept making edits that did not make fewer tests fail" in note


def test_when_no_attempt_fixes_it_the_best_attempts_change_is_what_the_run_leaves(user_repo: Path) -> None:
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]  # attempt 1: a change, then stuck
    engine = RecordingEngine(turns(PLAN, *stuck))  # attempt 2: the script is over, no calls
    report, events = run_fix(user_repo, engine, max_steps=20, max_attempts=2)
    assert report.attempts == 2 and report.status == "not_resolved"
    assert "+    middle = s[len(s) // 2]" in report.diff  # attempt 1's change, not attempt 2's nothing
    assert any("kept the change of attempt 1 (1 failing tests)" in getattr(e, "message", "") for e in events)
    journal = Path(report.trajectory_path or "").with_suffix(".edits").read_text()
    assert '"tool":"restore_attempt"' in journal.replace(" ", "")
