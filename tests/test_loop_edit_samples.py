"""Edit sampling: an edit that leaves tests failing is tried against other replies drawn for the
same turn, on the real tree with the real tests, and the best of them goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import Notice, ToolFinished, ToolStarted
from tests.repos import git as run_git
from tests.repos import median_repo, snapshot
from tests.test_loop_scripted import (
    BREAKING_EDIT,
    EDIT,
    FINISH,
    PLAN,
    READ,
    WRONG_EDIT,
    ConversationEngine,
    ScriptedTurn,
    run_fix,
    turns,
)

FIXED = EDIT.tool_calls[0].arguments["new_text"]  # type: ignore[index]


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "user")
    (repo / "notes.txt").write_text("my notes\n")  # untracked work the run must not touch
    return repo


class DrawingEngine(ConversationEngine):
    """A script whose next turn stands for another draw when the loop samples."""

    @property
    def samples(self) -> bool:
        return True


def _notices(events: list) -> list[str]:
    return [e.message for e in events if isinstance(e, Notice)]


def test_a_drawn_edit_that_passes_replaces_the_first_that_did_not(user_repo: Path) -> None:
    before = snapshot(user_repo)
    engine = DrawingEngine(turns(PLAN, WRONG_EDIT, EDIT, FINISH))
    report, events = run_fix(user_repo, engine, edit_samples=4)
    assert report.status == "resolved" and report.stop_reason == "finished" and report.steps == 2
    # the draw answered the very same turn, sampled (the greedy reply's KV cache stays usable)
    assert engine.conversations[2] == engine.conversations[1]
    assert engine.temperatures[1:3] == [0.0, 0.7]
    # the conversation goes on from the edit that passed: the failed one was never part of it
    after = engine.conversations[3]
    edits = [c.arguments["new_text"] for m in after for c in m.tool_calls if c.name == "edit_file"]
    assert edits == [FIXED]
    assert "middle = s" not in report.diff and "(s[mid - 1] + s[mid]) / 2" in report.diff
    # the tests ran once per edit tried; only the edit that went on is shown as a run
    started = [e.call.name for e in events if isinstance(e, ToolStarted)]
    assert started == ["run_tests", "edit_file", "run_tests", "finish"]
    runs = [e.ok for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    assert runs == [False, True]
    assert any(
        "tried 2 edits for this turn (failing tests: 1, 0); going on with edit 2" in n
        for n in _notices(events)
    )
    assert snapshot(user_repo) == before


def test_the_edit_with_fewest_failing_goes_on_and_the_others_leave_no_trace(user_repo: Path) -> None:
    # the greedy edit keeps one test failing; the draws break two, are no edit, break two again
    engine = DrawingEngine(turns(PLAN, WRONG_EDIT, BREAKING_EDIT, READ, BREAKING_EDIT))
    report, events = run_fix(user_repo, engine, edit_samples=4, max_steps=1)
    assert report.steps == 1 and len(engine.conversations) == 5
    assert (
        engine.conversations[2]
        == engine.conversations[3]
        == engine.conversations[4]
        == engine.conversations[1]
    )
    assert "middle = s[len(s) // 2]" in report.diff and "s[0]" not in report.diff
    said = _notices(events)
    assert any(
        "(failing tests: 1, 2, no count (the tests did not run through), 2); going on with edit 1" in n
        for n in said
    ), said
    assert sum("drawing another" in n for n in said) == 3


def test_an_edit_that_only_adds_a_failing_test_is_not_sampled(user_repo: Path) -> None:
    new_test = "from stats import median\n\n\ndef test_pair():\n    assert median([1, 3]) == 2\n"
    create = ScriptedTurn(
        tool_calls=[{"name": "create_file", "arguments": {"path": "test_pair.py", "content": new_test}}]
    )
    engine = DrawingEngine(turns(PLAN, create, EDIT, FINISH))
    report, events = run_fix(user_repo, engine, edit_samples=4)
    assert report.status == "resolved" and report.steps == 3
    assert engine.temperatures == [0.0, 0.0, 0.0, 0.0]
    assert not any("drawing another" in n for n in _notices(events))


def test_no_draw_when_the_tests_passed_before_any_change(user_repo: Path) -> None:
    stats = user_repo / "stats.py"
    stats.write_text(stats.read_text().replace("    return s[len(s) // 2]\n", FIXED))
    run_git(user_repo, "commit", "-qam", "fixed")
    engine = DrawingEngine(turns(PLAN, BREAKING_EDIT, READ))
    _, events = run_fix(user_repo, engine, edit_samples=4, max_steps=1)
    assert len(engine.conversations) == 2  # the plan and the one turn: nothing to compare edits on
    assert not any("drawing another" in n for n in _notices(events))
