"""Edit sampling (agent/loop/sampling.py): an edit that leaves tests failing is tried against other
replies drawn for the same turn, on the real tree with the real tests, and the best of them goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engines.scripted import ScriptedTurn
from agent.events import ChatDone, Notice, ToolFinished, ToolStarted, Usage
from agent.loop import Trial
from agent.messages import Message, ToolSpec
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import median_repo, snapshot
from tests.scripts import (
    BREAKING_EDIT,
    EDIT,
    FINISH,
    PLAN,
    READ,
    WRONG_EDIT,
    run_fix,
    turns,
)

FIXED = EDIT.tool_calls[0].arguments["new_text"]  # type: ignore[index]
# WRONG_EDIT is a pure refactor: the even test fails as before, with the same error. This one
# keeps it failing too, but differently (`assert 2 == 2.5`, was `assert 3 == 2.5`).
NEAR_MISS_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    return s[(len(s) - 1) // 2]\n",
            },
        }
    ]
)


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "user")
    (repo / "notes.txt").write_text("my notes\n")  # untracked work the run must not touch
    return repo


def _notices(events: list) -> list[str]:
    return [e.message for e in events if isinstance(e, Notice)]


def test_a_drawn_edit_that_passes_replaces_the_first_that_did_not(user_repo: Path) -> None:
    before = snapshot(user_repo)
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, EDIT, FINISH), samples=True)
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
        "tried 2 edits for this turn (tests: 1 failing, no test result changed, 0 failing); "
        "going on with edit 2" in n
        for n in _notices(events)
    )
    assert snapshot(user_repo) == before


def test_the_edit_with_fewest_failing_goes_on_and_the_others_leave_no_trace(user_repo: Path) -> None:
    # the greedy edit keeps one test failing; the draws break two, are no edit, and the same
    # breaking edit again (not run again: it would break the same two)
    engine = RecordingEngine(turns(PLAN, NEAR_MISS_EDIT, BREAKING_EDIT, READ, BREAKING_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=4, max_steps=1)
    assert report.steps == 1 and len(engine.conversations) == 5
    assert (
        engine.conversations[2]
        == engine.conversations[3]
        == engine.conversations[4]
        == engine.conversations[1]
    )
    assert "s[(len(s) - 1) // 2]" in report.diff and "s[0]" not in report.diff
    said = _notices(events)
    assert any(
        "(tests: 1 failing, 2 failing, no count, tried on this code before, not again); going on with edit 1"
        in n
        for n in said
    ), said
    assert sum("drawing another" in n for n in said) == 3
    assert any("edit 3 of this turn (not one edit: read_file): no count" in n for n in said), said


def test_an_edit_that_changes_a_result_goes_on_over_one_that_changed_none(user_repo: Path) -> None:
    # greedy: a refactor that leaves the failure exactly as it was; the draws break one more
    # test, then fail as many but differently
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, BREAKING_EDIT, NEAR_MISS_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=3, max_steps=1)
    said = _notices(events)
    assert any(
        "edit 1 of this turn (stats.py line " in n and "no test result changed; drawing" in n for n in said
    )
    assert any(
        "(tests: 1 failing, no test result changed, 2 failing, 1 failing); going on with edit 3" in n
        for n in said
    ), said
    assert "s[(len(s) - 1) // 2]" in report.diff and "middle" not in report.diff and "s[0]" not in report.diff


def test_the_model_is_told_when_its_edit_changed_no_test_result(user_repo: Path, tmp_path: Path) -> None:
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, READ))  # no sampling
    run_fix(user_repo, engine, edit_samples=4, max_steps=2)
    after = _tool_texts(engine.conversations[2])[-1]
    assert "changed no test result" in after and "TESTS FAILED" in after
    # an edit that fails differently is not said to change nothing
    engine = RecordingEngine(turns(PLAN, NEAR_MISS_EDIT, READ))
    run_fix(median_repo(tmp_path / "other"), engine, edit_samples=4, max_steps=2)
    after = _tool_texts(engine.conversations[2])[-1]
    assert "changed no test result" not in after and "assert 2 == 2.5" in after


@pytest.mark.parametrize(
    ("failing", "beats"),
    [
        (1.0, True),  # as many failing as before, but something changed
        (2.0, False),  # one more: worse than changing nothing
        (0.0, True),
        (float("inf"), False),  # the tests did not run through
    ],
)
def test_how_an_edit_ranks_against_one_that_changed_no_result(failing: float, beats: bool) -> None:
    done = ChatDone(message=Message(role="assistant"), usage=Usage())
    nothing = Trial(done=done, failing=1.0, no_effect=True)
    other = Trial(done=done, failing=failing)
    assert (other.rank(1.0) < nothing.rank(1.0)) is beats


def test_an_edit_that_only_adds_a_failing_test_is_not_sampled(user_repo: Path) -> None:
    new_test = "from stats import median\n\n\ndef test_pair():\n    assert median([1, 3]) == 2\n"
    create = ScriptedTurn(
        tool_calls=[{"name": "create_file", "arguments": {"path": "test_pair.py", "content": new_test}}]
    )
    engine = RecordingEngine(turns(PLAN, create, EDIT, FINISH), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=4)
    assert report.status == "resolved" and report.steps == 3
    assert engine.temperatures == [0.0, 0.0, 0.0, 0.0]
    assert not any("drawing another" in n for n in _notices(events))


def test_no_draw_when_the_tests_passed_before_any_change(user_repo: Path) -> None:
    stats = user_repo / "stats.py"
    stats.write_text(stats.read_text().replace("    return s[len(s) // 2]\n", FIXED))
    run_git(user_repo, "commit", "-qam", "fixed")
    engine = RecordingEngine(turns(PLAN, BREAKING_EDIT, READ), samples=True)
    _, events = run_fix(user_repo, engine, edit_samples=4, max_steps=1)
    assert len(engine.conversations) == 2  # the plan and the one turn: nothing to compare edits on
    assert not any("drawing another" in n for n in _notices(events))


COMMENT_EDIT = ScriptedTurn(  # what the 1.5B model did on the duration task: the fix as a comment
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    # average the two middle values\n    return s[len(s) // 2]\n",
            },
        }
    ]
)


def _tool_texts(conversation: list[Message]) -> list[str]:
    return [m.content or "" for m in conversation if m.role == "tool"]


def test_a_comment_only_edit_is_never_the_one_that_goes_on(user_repo: Path) -> None:
    # greedy: the fix as a comment; the draws: a wrong edit, then the comment again (not tried twice)
    engine = RecordingEngine(turns(PLAN, COMMENT_EDIT, WRONG_EDIT, COMMENT_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=3, max_steps=1)
    said = _notices(events)
    assert any(
        "(tests: comments only, 1 failing, no test result changed, tried on this code before, not again); "
        "going on with edit 2" in n
        for n in said
    ), said
    assert "middle = s[len(s) // 2]" in report.diff and "#" not in report.diff


def test_the_model_is_told_a_comment_only_edit_changes_nothing(user_repo: Path, tmp_path: Path) -> None:
    engine = RecordingEngine(turns(PLAN, COMMENT_EDIT, EDIT, FINISH))  # no sampling
    report, _ = run_fix(user_repo, engine, edit_samples=4)
    assert report.status == "resolved"
    after_comment = _tool_texts(engine.conversations[2])[-1]
    assert "changed only comments or layout" in after_comment
    assert "TESTS FAILED" in after_comment
    # a real edit that still fails is not called cosmetic
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, READ))
    run_fix(median_repo(tmp_path / "other"), engine, edit_samples=4, max_steps=2)
    assert "comments" not in _tool_texts(engine.conversations[2])[-1]


def _run_tests_turn(arguments: dict) -> ScriptedTurn:
    return ScriptedTurn(tool_calls=[{"name": "run_tests", "arguments": arguments}])


@pytest.mark.parametrize(
    ("selection", "kept"),
    [
        ({"keyword": "not test_even"}, False),  # leaves out the test to fix: never the loop's
        ({"keyword": "odd"}, False),  # a keyword that leaves it out
        ({"keyword": "even"}, True),  # one whose run shows it failing holds it
        ({"paths": ["test_stats.py::test_odd"]}, False),
        ({"paths": ["test_stats.py::test_even"]}, True),
        ({"paths": ["test_stats.py"]}, True),
    ],
)
def test_the_tests_after_an_edit_always_hold_the_tests_that_failed(
    user_repo: Path, selection: dict, kept: bool
) -> None:
    engine = RecordingEngine(turns(PLAN, _run_tests_turn(selection), WRONG_EDIT, READ))
    _, events = run_fix(user_repo, engine, edit_samples=1, max_steps=3)
    after_edit = [e for e in events if isinstance(e, ToolStarted) and e.call.id.startswith("tests_")]
    assert len(after_edit) == 1
    assert after_edit[0].call.arguments == (selection if kept else {})
    # whichever ran, the edit that keeps the bug is shown failing
    assert "TESTS FAILED" in _tool_texts(engine.conversations[3])[-1]


def test_an_edit_that_makes_the_code_as_an_earlier_attempt_had_it_loses_the_draw(user_repo: Path) -> None:
    """The 1.5B model copied the set-aside attempt's diff from the new attempt's prompt, draw
    after draw, and went where that attempt had gone."""
    other = ScriptedTurn(
        tool_calls=[
            {
                "name": "edit_file",
                "arguments": {
                    "path": "stats.py",
                    "old_text": "    return s[len(s) // 2]\n",
                    "new_text": "    return s[(len(s) - 1) // 2] + 0\n",
                },
            }
        ]
    )
    idle = ScriptedTurn(text="Let me think about it.")
    # attempt 1: the near miss (a draw that is no edit loses to it), then three replies without
    # a call; attempt 2: the near miss again, and a draw that fails as many, another way
    script = [PLAN, NEAR_MISS_EDIT, READ, idle, idle, idle, NEAR_MISS_EDIT, other]
    engine = RecordingEngine(turns(*script), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=10, max_attempts=2)
    said = _notices(events)
    assert report.attempts == 2
    assert any(
        "(tests: 1 failing, as an earlier attempt had it, 1 failing); going on with edit 2" in n for n in said
    ), said
    assert "s[(len(s) - 1) // 2] + 0" in report.diff


def test_an_edit_that_stops_the_tests_from_running_counts_them_all_failing(user_repo: Path) -> None:
    """The 1.5B model's `import parse_yes_no` (a name nothing defines) made the suite one
    collection error: `0 passed, 1 error` ranked above an edit that left 2 of 7 failing."""
    rename = ScriptedTurn(
        tool_calls=[
            {
                "name": "edit_file",
                "arguments": {
                    "path": "stats.py",
                    "old_text": "def median(xs):\n",
                    "new_text": "def mid(xs):\n",
                },
            }
        ]
    )
    engine = RecordingEngine(turns(PLAN, rename, NEAR_MISS_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=1)
    said = _notices(events)
    # the import error counts as its error and the test the suite no longer runs
    assert any("(tests: 2 failing, 1 failing); going on with edit 2" in n for n in said), said
    assert "def mid" not in report.diff


def test_when_no_edit_of_the_turn_changed_a_result_none_is_applied(user_repo: Path) -> None:
    """The 1.5B model edited the wrong line draw after draw (the `return` instead of the pattern
    it used); the best of them went on and left a change that does nothing on the tree."""
    before = snapshot(user_repo)
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, READ), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=3, max_steps=2)
    said = _notices(events)
    assert any(
        "(tests: 1 failing, no test result changed, 2 failing, tried on this code before, not again); "
        "applying none" in n
        for n in said
    ), said
    assert report.diff == "" and snapshot(user_repo) == before
    # the model reads where the edits were, on the code as it was, and goes on from there
    told = _tool_texts(engine.conversations[4])[-1]
    assert told.startswith("[Not applied: 3 edits were tried for this turn (stats.py line ")
    assert "none made fewer tests fail" in told
    # what the edited `return` reads is set on a line none of them touched
    assert "- stats.py line 3: `s = sorted(xs)`" in told
    # the third draw was the first again: not run, and the model is told so
    assert "1 of them is the same as an edit already tried on this code" in told
    finished = [e for e in events if isinstance(e, ToolFinished) and e.name == "edit_file"]
    assert [e.ok for e in finished] == [False] and finished[0].data == {"set_off": True}


def test_an_edit_that_changed_a_result_is_applied_even_when_others_changed_none(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, NEAR_MISS_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=1)
    assert any("going on with edit 2" in n for n in _notices(events))
    assert "s[(len(s) - 1) // 2]" in report.diff


def test_a_single_edit_that_changed_nothing_still_goes_on(user_repo: Path) -> None:
    # one draw is all there was time for (or the rest did not apply): nothing to weigh it with
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, READ), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=1)
    assert any(
        "(tests: 1 failing, no test result changed, no count); going on with edit 1" in n
        for n in _notices(events)
    ), _notices(events)
    assert "middle" in report.diff


def test_an_edit_tried_on_this_code_before_is_not_tried_again(user_repo: Path) -> None:
    """The 1.5B model's draws were mostly the very edit already tried; a second run of the tests
    on it would only say the same again."""
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, WRONG_EDIT, NEAR_MISS_EDIT), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=3, max_steps=1)
    said = _notices(events)
    assert any(
        "(tests: 1 failing, no test result changed, tried on this code before, not again, 1 failing); "
        "going on with edit 3" in n
        for n in said
    ), said
    assert "s[(len(s) - 1) // 2]" in report.diff


def test_after_a_set_off_turn_the_same_edits_are_not_applied_or_run_again(user_repo: Path) -> None:
    """After a turn whose edits all changed nothing, the 1.5B model's next reply was the same call
    again, turn after turn."""
    before = snapshot(user_repo)
    engine = RecordingEngine(
        turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, BREAKING_EDIT, READ), samples=True
    )
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=3)
    said = _notices(events)
    assert any(
        "(tests: tried on this code before, not again, tried on this code before, not again); applying none"
        in n
        for n in said
    ), said
    told = _tool_texts(engine.conversations[5])[-1]
    assert told.startswith("[Not applied: 2 edits were tried for this turn (stats.py line 4)")
    assert "All of them are the same as an edit already tried on this code" in told
    assert report.diff == "" and snapshot(user_repo) == before


def test_draws_that_repeat_a_tried_edit_make_the_next_replies_hotter(user_repo: Path) -> None:
    """At 0.7 the 1.5B model's draws were the same call four times in a row: its sampling floor
    (min_p) left no other token at most places. Each repeat raises the temperature and lowers the
    floor for the replies after it."""
    engine = RecordingEngine(
        turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, BREAKING_EDIT, READ), samples=True
    )
    _, events = run_fix(user_repo, engine, edit_samples=2, max_steps=3)
    # plan, turn 1 (greedy, then a draw at the usual 0.7), as before any repeat
    assert engine.temperatures[:3] == [0.0, 0.0, 0.7] and engine.min_ps[:3] == [None] * 3
    # turn 2's reply repeats turn 1's first edit (heat 1): its draw is hotter, and repeats too
    assert engine.temperatures[4] == pytest.approx(0.9) and engine.min_ps[4] == pytest.approx(0.025)
    # turn 3 comes after two repeats
    assert engine.temperatures[5] == pytest.approx(1.1) and engine.min_ps[5] == pytest.approx(0.0125)
    assert any("drawing another (2 of 2, temperature 0.9)" in n for n in _notices(events))


def test_once_an_edit_goes_on_replies_are_sampled_as_before(user_repo: Path) -> None:
    engine = RecordingEngine(
        turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, NEAR_MISS_EDIT, READ, READ), samples=True
    )
    report, _ = run_fix(user_repo, engine, edit_samples=2, max_steps=3)
    assert "s[(len(s) - 1) // 2]" in report.diff  # turn 2's hotter draw went on
    assert engine.temperatures[4] == pytest.approx(0.9)
    assert engine.temperatures[5] <= 0.7 and engine.min_ps[5] is None


def _old_text_grounds(specs: list[ToolSpec], path: str) -> object:
    edit = next(s for s in specs if s.name == "edit_file")
    assert edit.grammar is not None
    alternative = next(a for a in edit.grammar["anyOf"] if a["properties"]["path"].get("const") == path)
    return alternative["properties"]["old_text"]["x-lines-of"]


def test_a_line_where_edits_changed_nothing_in_two_set_off_turns_is_closed_to_edits(user_repo: Path) -> None:
    """The 1.5B model edited one line draw after draw, attempt after attempt, while the bug sat
    elsewhere: after two set-off turns on it, an edit's old text cannot hold it."""
    engine = RecordingEngine(
        turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, BREAKING_EDIT, READ), samples=True
    )
    report, _ = run_fix(user_repo, engine, edit_samples=2, max_steps=3)
    text = (user_repo / "stats.py").read_text()
    assert _old_text_grounds(engine.specs[1], "stats.py") == text  # turn 1: the whole file
    assert _old_text_grounds(engine.specs[3], "stats.py") == text  # turn 2: one set-off turn on line 4
    # turn 3, after the second: line 4 (`return s[len(s) // 2]`) is out, lines 1-3 stay
    assert _old_text_grounds(engine.specs[5], "stats.py") == ["".join(text.splitlines(keepends=True)[:3])]
    told = _tool_texts(engine.conversations[5])[-1]
    assert "until the code changes, an edit's old_text can no longer hold stats.py line 4" in told
    first = _tool_texts(engine.conversations[3])[-1]
    assert "can no longer hold" not in first
    assert report.diff == ""


def test_closed_lines_stay_closed_in_the_next_attempt_on_the_same_code(user_repo: Path) -> None:
    # three set-off turns end attempt 1; attempt 2 starts on the code as it was
    stale = [WRONG_EDIT, BREAKING_EDIT] * 3
    engine = RecordingEngine(turns(PLAN, *stale, READ, READ), samples=True)
    run_fix(user_repo, engine, edit_samples=2, max_steps=5, max_attempts=2)
    assert isinstance(_old_text_grounds(engine.specs[5], "stats.py"), list)
    assert isinstance(_old_text_grounds(engine.specs[-1], "stats.py"), list)  # attempt 2


def _sorted_line_edit(new: str) -> ScriptedTurn:
    return ScriptedTurn(
        tool_calls=[
            {
                "name": "edit_file",
                "arguments": {"path": "stats.py", "old_text": "    s = sorted(xs)\n", "new_text": new},
            }
        ]
    )


def test_once_the_tests_pass_a_set_off_turn_says_so_and_points_to_finish(user_repo: Path) -> None:
    """After its fix the model went on editing: a draw that broke a test and one that changed
    nothing. Neither goes on, and the model is not told that tests fail when none does."""
    breaking, needless = _sorted_line_edit("    s = xs\n"), _sorted_line_edit("    s = list(sorted(xs))\n")
    engine = RecordingEngine(turns(PLAN, EDIT, breaking, needless, FINISH), samples=True)
    report, _ = run_fix(user_repo, engine, edit_samples=2)
    assert report.status == "resolved" and "list(sorted" not in report.diff and "s = xs" not in report.diff
    told = _tool_texts(engine.conversations[4])[-1]
    assert told.startswith("[Not applied: 2 edits were tried for this turn; the tests already pass")
    assert "call finish" in told and "the same tests fail" not in told


def test_a_repeated_edit_is_not_applied_even_when_no_other_draw_ran(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, WRONG_EDIT, BREAKING_EDIT, WRONG_EDIT, READ, READ), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=3)
    said = _notices(events)
    assert any("(tests: tried on this code before, not again, no count); applying none" in n for n in said), (
        said
    )
    assert report.diff == ""


def test_an_edit_tried_in_one_attempt_is_not_run_again_in_the_next(user_repo: Path) -> None:
    # three set-off turns end attempt 1; attempt 2 starts on the same code as it did
    stale = [WRONG_EDIT, BREAKING_EDIT] * 3
    engine = RecordingEngine(turns(PLAN, *stale, WRONG_EDIT, NEAR_MISS_EDIT, READ), samples=True)
    report, events = run_fix(user_repo, engine, edit_samples=2, max_steps=8, max_attempts=2)
    said = _notices(events)
    second = said[next(i for i, n in enumerate(said) if "attempt 2 of 2" in n) :]
    assert any(
        "(tests: tried on this code before, not again, 1 failing); going on with edit 2" in n for n in second
    ), second
    assert "s[(len(s) - 1) // 2]" in report.diff
