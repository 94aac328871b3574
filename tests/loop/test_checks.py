"""The loop's own test runs (agent/loop/checks.py): after each edit, regressions, stale edits,
verify and the finish refusal; through real runs of `agent fix`."""

from __future__ import annotations

from pathlib import Path

from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import ToolFinished
from tests.recording import RecordingEngine
from tests.scripts import (
    BREAKING_EDIT,
    EDIT,
    FINISH,
    FIXED_BODY,
    PLAN,
    TEST,
    UNDO_WRONG_EDIT,
    WRONG_EDIT,
    rename_edit,
    run_fix,
    turns,
)


def test_finish_is_refused_until_the_tests_pass(user_repo: Path) -> None:
    wrong_edit = ScriptedTurn(
        tool_calls=[
            {
                "name": "edit_file",
                "arguments": {
                    "path": "stats.py",
                    "old_text": "return s[len(s) // 2]",
                    "new_text": "return s[0]",
                },
            }
        ]
    )
    script = turns(
        PLAN,
        wrong_edit,
        FINISH,
        {
            "tool_calls": [
                {
                    "name": "edit_file",
                    "arguments": {
                        "path": "stats.py",
                        "old_text": "    return s[0]\n",
                        "new_text": FIXED_BODY,
                    },
                }
            ]
        },
        FINISH,
    )
    # without tests after edits (with them the breaking edit would be undone at once)
    report, events = run_fix(user_repo, ScriptedEngine(script), test_after_edit=False)

    refusals = [e for e in events if isinstance(e, ToolFinished) and e.name == "finish" and not e.ok]
    # the breaking edit: a test that passed before fails now, and finish is refused saying which
    assert len(refusals) == 1 and "tests that passed before your change fail now" in refusals[0].output
    assert "test_stats.py::test_odd" in refusals[0].output
    assert report.status == "resolved" and report.tests.ok


def test_a_passing_subset_of_the_tests_does_not_let_a_wrong_fix_finish(user_repo: Path) -> None:
    only_odd = ScriptedTurn(
        tool_calls=[{"name": "run_tests", "arguments": {"paths": ["test_stats.py::test_odd"]}}]
    )
    report, events = run_fix(
        user_repo, ScriptedEngine(turns(PLAN, WRONG_EDIT, only_odd, FINISH)), max_steps=3
    )
    refusals = [e for e in events if isinstance(e, ToolFinished) and e.name == "finish" and not e.ok]
    # the loop ran the whole suite itself: the test that showed the bug still fails
    assert refusals and "none of the tests that failed before your change passes yet" in refusals[0].output
    assert report.status == "not_resolved" and report.tests is not None and not report.tests.ok


def test_the_tests_run_after_each_edit_and_come_back_with_it(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, UNDO_WRONG_EDIT, EDIT, FINISH))
    report, events = run_fix(user_repo, engine)
    assert report.status == "resolved" and report.steps == 4  # no turn spent on run_tests
    runs = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    assert [r.ok for r in runs] == [False, False, False, True]  # before any change, then each edit
    # the task states how the tests fail before any change
    task = engine.conversations[0][1].content
    assert "The tests, run before any change:" in task and "test_even" in task
    after_wrong = [m.content for m in engine.conversations[2] if m.role == "tool"][-1]
    assert after_wrong.startswith("edited stats.py")
    assert "The tests, run on the code as it is now:" in after_wrong and "1 failed" in after_wrong
    # finish is accepted on the standing run: the tests are not run again
    assert report.tests.ok and report.stop_reason == "finished"


def test_an_edit_that_makes_more_tests_fail_is_undone(user_repo: Path) -> None:
    # EDIT's old_text is the original line: it applies only if the breaking edit was undone
    engine = RecordingEngine(turns(PLAN, BREAKING_EDIT, EDIT, FINISH))
    report, events = run_fix(user_repo, engine, undo_regressions=True)
    assert report.status == "resolved" and report.steps == 3, report
    told = [m.content for m in engine.conversations[2] if m.role == "tool"][-1]
    assert told.startswith("[That edit made more tests fail (1 before it, 2 with it), so it was undone")
    assert "test_odd" in told  # what broke
    assert any(
        "undid the edit_file that made more tests fail (1 -> 2)" in getattr(e, "message", "") for e in events
    )
    assert "s[0]" not in report.diff and report.files_changed == ["stats.py"]


def test_a_new_failing_test_is_kept(user_repo: Path) -> None:
    """A test written to show the bug fails by design: it is neither undone nor a stale edit."""
    new_test = "from stats import median\n\n\ndef test_pair():\n    assert median([1, 3]) == 2\n"
    create = ScriptedTurn(
        tool_calls=[{"name": "create_file", "arguments": {"path": "test_pair.py", "content": new_test}}]
    )
    engine = RecordingEngine(turns(PLAN, create, EDIT, FINISH))
    report, _ = run_fix(user_repo, engine, undo_regressions=True)
    told = [m.content for m in engine.conversations[2] if m.role == "tool"][-1]
    assert not told.startswith("[That edit made more tests fail") and "2 failed" in told
    assert report.status == "resolved" and sorted(report.files_changed) == ["stats.py", "test_pair.py"]


def test_the_tests_after_an_edit_follow_the_models_selection_only_when_it_finds_tests(
    user_repo: Path,
) -> None:
    """The 1.5B model asked run_tests for its source file; no test ran, and every edit after that
    came back with 'NO TESTS RAN'."""
    empty = ScriptedTurn(tool_calls=[{"name": "run_tests", "arguments": {"paths": ["stats.py"]}}])
    narrow = ScriptedTurn(tool_calls=[{"name": "run_tests", "arguments": {"keyword": "even"}}])
    engine = RecordingEngine(turns(PLAN, empty, WRONG_EDIT, narrow, UNDO_WRONG_EDIT, EDIT, FINISH))
    report, events = run_fix(user_repo, engine)
    runs = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    selections = [(r.call_id.startswith("tests_"), r.data.get("passed"), r.data.get("failed")) for r in runs]
    # baseline; the model's empty run; the whole suite after WRONG_EDIT; the model's `-k even`;
    # then `-k even` after each later edit
    assert selections[2] == (True, 1, 1) and selections[4:6] == [(True, 0, 1), (True, 1, 0)]
    assert selections[6:] == [(False, 2, 0)]  # finish verifies with the whole suite
    assert report.status == "resolved"


def test_edits_that_leave_as_many_tests_failing_end_the_attempt(user_repo: Path) -> None:
    edits = [rename_edit(i, i + 1) for i in range(6)]
    engine = RecordingEngine(turns(PLAN, *edits))
    report, events = run_fix(user_repo, engine, max_steps=20)
    # one test fails before any change; three edits that leave it failing end the attempt
    assert report.stop_reason == "no_improvement" and report.steps == 3
    assert any("3 edits in a row did no better" in getattr(e, "message", "") for e in events)


NOOP_EDIT = ScriptedTurn(  # the last edit's new text sent again as both old and new text
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    middle = s[len(s) // 2]\n    return middle\n",
                "new_text": "    middle = s[len(s) // 2]\n    return middle\n",
            },
        }
    ]
)


def test_an_edit_that_changes_nothing_after_a_change_gets_the_tests_result(user_repo: Path) -> None:
    """The 1.5B and 0.5B models re-send their last edit as a no-op when they think it is done:
    the refusal comes with the tests run on the code as it is; sent again, the attempt is stuck."""
    script = [PLAN, WRONG_EDIT, NOOP_EDIT, NOOP_EDIT, EDIT, TEST, FINISH]
    engine = RecordingEngine(turns(*script))
    # without tests after edits: with them the change was tested already
    report, events = run_fix(user_repo, engine, max_steps=12, max_attempts=2, test_after_edit=False)
    assert report.status == "resolved" and report.stop_reason == "finished" and report.attempts == 2
    refusal = engine.conversations[3][-1].content
    assert "old_text and new_text are the same" in refusal
    assert "The tests, run on the code as it is now:" in refusal and "test_even" in refusal
    notices = [getattr(e, "message", "") for e in events]
    assert any("changes nothing twice" in n for n in notices)
    assert engine.conversations[4][3].content.startswith("[Attempt 1 did not fix the issue")
