"""Going round in circles (agent/loop/repeats.py): repeated calls, cycles, revisits."""

from __future__ import annotations

from pathlib import Path

from agent.engines.scripted import ScriptedEngine
from tests.recording import RecordingEngine
from tests.scripts import (
    PLAN,
    READ,
    TEST,
    UNDO_WRONG_EDIT,
    WRONG_EDIT,
    run_fix,
    turns,
)


def test_repeated_identical_calls_stop_the_run(user_repo: Path) -> None:
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, READ, READ, READ)))
    assert report.stop_reason == "repeated_call"


def test_a_cycle_of_calls_with_no_change_in_between_stops_the_run(user_repo: Path) -> None:
    report, events = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, TEST, READ, TEST, READ, TEST, READ)))
    assert report.stop_reason == "repeated_call"
    assert any("without changing the code" in getattr(e, "message", "") for e in events)


def test_after_a_repeated_call_the_next_turn_samples_instead_of_decoding_greedily(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, READ, READ, READ, READ))
    report, _ = run_fix(user_repo, engine)
    assert report.stop_reason == "repeated_call"
    # plan, first read, then the repeats: from the second identical call on, turns are sampled
    assert engine.temperatures[:3] == [0.0, 0.0, 0.0] and engine.temperatures[3:] == [0.7, 0.7]


def test_edits_that_go_back_and_forth_between_two_versions_are_a_repeat(user_repo: Path) -> None:
    cycle = [WRONG_EDIT, TEST, UNDO_WRONG_EDIT, TEST]
    engine = RecordingEngine(turns(PLAN, *cycle * 3))
    report, events = run_fix(user_repo, engine, max_steps=20, test_after_edit=False)
    assert report.stop_reason == "repeated_call" and report.steps == 9  # the 4th return to a version
    assert any(
        "put the code back to a version it had before 4 times" in getattr(e, "message", "") for e in events
    )
    # the first return (step 3) is told so, and the turn after it is sampled
    told = [m.content for m in engine.conversations[4] if m.role == "tool"][-1]
    assert told.startswith("[This edit put the code back exactly as it was earlier")
    assert engine.temperatures[1:5] == [0.0, 0.0, 0.0, 0.7]
