"""The repair phase (agent/loop/repair.py): fixes written as code blocks, tried on the real tree with
the real tests in the real sandbox, before the tool-calling loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engines.scripted import ScriptedTurn
from agent.events import Notice, StepStarted, ToolFinished, ToolStarted
from agent.loop.repair import BLOCK_END, close_open_fence, code_blocks
from agent.run.report import RepairSummary, render_text
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import median_repo, snapshot
from tests.scripts import EDIT, FINISH, PLAN, run_fix, turns

GOOD = ScriptedTurn(
    text=(
        "For an even length the median is the mean of the two middle values; the code takes one.\n\n"
        "```python\ndef median(xs):\n    s = sorted(xs)\n    mid = len(s) // 2\n"
        "    if len(s) % 2 == 0:\n        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n"
    )
)
# keeps the even case failing, differently (2 == 2.5)
NEAR = ScriptedTurn(
    text="It takes the upper middle.\n\n```python\ndef median(xs):\n    s = sorted(xs)\n"
    "    return s[(len(s) - 1) // 2]\n```"
)
# a refactor: fails exactly as before
SAME = ScriptedTurn(
    text="It is fine.\n```python\ndef median(xs):\n    s = sorted(xs)\n    middle = s[len(s) // 2]\n"
    "    return middle\n```"
)
# stops the tests from running: the module fails at import
BROKEN = ScriptedTurn(
    text="It needs a check.\n\n```python\n_CHECK = 1 / 0\n\n\ndef median(xs):\n    s = sorted(xs)\n"
    "    return s[(len(s) - 1) // 2]\n```"
)
TALK = ScriptedTurn(text="The median is wrong for even lengths because it takes one value.")


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "user")
    (repo / "notes.txt").write_text("my notes\n")
    return repo


def test_a_drafted_fix_that_passes_is_the_run_s_result(user_repo: Path) -> None:
    before = snapshot(user_repo)
    engine = RecordingEngine(turns(GOOD), samples=True)
    report, events = run_fix(user_repo, engine, repair="auto")
    assert report.status == "resolved" and report.stop_reason == "finished" and report.tests.ok
    assert report.steps == 1 and report.summary.startswith("For an even length the median is the mean")
    assert report.repair == RepairSummary(replies=1, drafts=1, resolved=True)
    assert "repair: 1 drafts tried from 1 replies, one made the tests pass" in render_text(report)
    assert "(s[mid - 1] + s[mid]) / 2" in run_git(user_repo, "show", f"{report.branch}:stats.py")
    # one reply: the repair prompt, no tools, greedy, ending at the close of its first block
    (conversation,) = engine.conversations
    assert [m.role for m in conversation] == ["system", "user"]
    task = conversation[1].content
    assert "Issue: median of an even-length list is wrong" in task
    assert "### stats.py (whole file" in task and "def test_even" in task  # the repository context
    assert "test_stats.py::test_even" in task and "assert 2 == 2.5" not in task
    assert "in one ```python block" in task
    assert engine.specs == [[]]
    options = engine.options[0]
    assert options.tool_choice == "none" and options.temperature == 0.0 and options.stop == [BLOCK_END]
    started = [e.call for e in events if isinstance(e, ToolStarted)]
    assert [(c.id, c.name) for c in started] == [
        ("baseline", "run_tests"),
        ("repair_1_1", "write_code"),
        ("repair_1_tests", "run_tests"),
    ]
    assert sum(isinstance(e, StepStarted) for e in events) == 1
    assert snapshot(user_repo) == before


def test_failed_drafts_leave_no_trace_and_the_closest_is_fed_back_with_its_tests(user_repo: Path) -> None:
    engine = RecordingEngine(turns(SAME, NEAR, SAME, GOOD), samples=True)
    report, events = run_fix(user_repo, engine, repair="always")
    assert report.status == "resolved" and report.steps == 4
    assert "middle = s" not in report.diff and "(len(s) - 1) // 2" not in report.diff
    # replies 2 and 3 are sampled draws on the same prompt; the repeated refactor is not run again
    assert [o.temperature for o in engine.options] == [0.0, 0.8, 0.8, 0.8]
    assert [o.seed for o in engine.options] == [0, 1, 2, 3]
    assert engine.conversations[0] == engine.conversations[1] == engine.conversations[2]
    runs = [e.call.id for e in events if isinstance(e, ToolStarted) and e.call.name == "run_tests"]
    assert runs == ["baseline", "repair_1_tests", "repair_2_tests", "repair_4_tests"]
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert "draft 1: 1 failing, as before any change" in notices
    assert "draft 2: 1 failing" in notices
    # the round's closest draft (a changed result over none) goes back with how its tests failed
    last = engine.conversations[3]
    assert [m.role for m in last] == ["system", "user", "assistant", "user"]
    assert last[2].content.startswith("It takes the upper middle.") and last[2].content.endswith("```")
    assert last[3].content.startswith("With that change the tests still fail:")
    assert "assert 2 == 2.5" in last[3].content


def test_a_reply_without_code_is_asked_for_its_code(user_repo: Path) -> None:
    engine = RecordingEngine(turns(TALK, GOOD), samples=True)
    report, _ = run_fix(user_repo, engine, repair="always")
    assert report.status == "resolved" and report.steps == 2
    nudged = engine.conversations[1]
    assert nudged[2].role == "assistant" and nudged[2].content == TALK.text
    assert nudged[3].content == "Now write the fixed definitions in one ```python block."


def test_when_no_draft_passes_the_tool_loop_goes_on_with_the_steps_left(user_repo: Path) -> None:
    before = snapshot(user_repo)
    engine = RecordingEngine(turns(SAME, NEAR, PLAN, EDIT, FINISH), samples=True)
    report, events = run_fix(user_repo, engine, repair="always", repair_drafts=9, max_steps=4)
    assert report.status == "resolved" and report.stop_reason == "finished"
    assert report.steps == 4  # two replies of the repair phase (70% of the steps), two loop turns
    assert report.repair == RepairSummary(replies=2, drafts=2, resolved=False)
    loop_start = engine.conversations[2]
    assert loop_start[0].content != engine.conversations[0][0].content  # the loop's own prompt
    assert engine.specs[2] and engine.options[3].tool_choice == "required"
    notices = [e.message for e in events if isinstance(e, Notice)]
    said = "repair: 2 drafts from 2 replies, none fixed the tests; going on with tools"
    assert any(said in n for n in notices)
    finished = [e for e in events if isinstance(e, ToolFinished) and e.name == "write_code"]
    assert len(finished) == 2
    assert snapshot(user_repo) == before


def test_the_closest_draft_is_kept_when_the_loop_does_no_better(user_repo: Path) -> None:
    engine = RecordingEngine(turns(NEAR, PLAN, {"text": "I am not sure."}), samples=True)
    report, events = run_fix(user_repo, engine, repair="always", repair_drafts=1, max_steps=3)
    assert report.steps == 3
    assert report.status == "not_resolved"
    assert "s[(len(s) - 1) // 2]" in report.diff
    assert any("kept the change of attempt 0" in getattr(e, "message", "") for e in events)


def test_a_draft_that_stops_the_tests_from_running_counts_them_all_failing(user_repo: Path) -> None:
    engine = RecordingEngine(turns(BROKEN, NEAR, PLAN, {"text": "I am not sure."}), samples=True)
    report, events = run_fix(user_repo, engine, repair="always", repair_drafts=2, max_steps=4)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert "draft 1: 2 failing" in notices  # its import error, and the test that no longer ran
    assert "draft 2: 1 failing" in notices
    assert report.status == "not_resolved"
    assert "s[(len(s) - 1) // 2]" in report.diff and "1 / 0" not in report.diff


def test_repair_is_off_with_a_replay_in_auto_and_when_asked(user_repo: Path) -> None:
    replay = RecordingEngine(turns(PLAN, EDIT, FINISH))  # samples nothing: auto leaves it out
    report, _ = run_fix(user_repo, replay, repair="auto")
    assert report.status == "resolved" and replay.specs[0]  # the first turn already had the tools
    off = RecordingEngine(turns(PLAN, EDIT, FINISH), samples=True)
    report, _ = run_fix(user_repo, off, repair="off")
    assert report.status == "resolved" and off.options[0].tool_choice == "none" and off.specs[0]


def test_no_repair_when_the_tests_pass_before_any_change(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "user")
    (repo / "test_stats.py").write_text("def test_nothing():\n    assert True\n")
    run_git(repo, "commit", "-qam", "tests pass")
    engine = RecordingEngine(turns(PLAN, EDIT, FINISH), samples=True)
    report, _ = run_fix(repo, engine, repair="always")
    assert engine.specs[0] and report.steps == 2


# ---- code blocks in a reply ---------------------------------------------------------------------

BLOCKS_REPLY = """The regex leaves out the seconds unit. In `timeutil/duration.py`:

```python
_PART = re.compile(r"(\\d+)([hms])")
```

Then run it:

```bash
pytest -q
```
"""


def test_blocks_with_their_language_and_the_file_named_before_them() -> None:
    blocks = code_blocks(BLOCKS_REPLY)
    assert [b.language for b in blocks] == ["python", "bash"]
    assert blocks[0].code == '_PART = re.compile(r"(\\d+)([hms])")\n'
    assert blocks[0].path == "timeutil/duration.py" and blocks[0].closed
    assert blocks[0].is_code and not blocks[1].is_code


def test_a_file_named_in_the_first_line_and_a_bare_fence() -> None:
    blocks = code_blocks("Fixed:\n```\n# stats/central.py\ndef median(xs):\n    return 1\n```\n")
    assert blocks[0].path == "stats/central.py" and blocks[0].language == ""
    assert blocks[0].code.startswith("# stats/central.py\ndef median")


def test_a_block_cut_at_the_reply_end_counts_and_gets_its_fence_closed() -> None:
    text = "The fix:\n```python\ndef f():\n    return 2"
    (block,) = code_blocks(text)
    assert not block.closed and block.code == "def f():\n    return 2\n"
    assert close_open_fence(text) == text + "\n```"
    assert close_open_fence(BLOCKS_REPLY) == BLOCKS_REPLY


def test_a_longer_fence_holds_a_shorter_one_and_tildes_work() -> None:
    text = "````markdown\n```python\nx = 1\n```\n````\n~~~py\ny = 2\n~~~\n"
    blocks = code_blocks(text)
    assert [b.language for b in blocks] == ["markdown", "py"]
    assert blocks[0].code == "```python\nx = 1\n```\n" and blocks[1].code == "y = 2\n"


def test_no_blocks_in_plain_text() -> None:
    assert code_blocks("The bug is in the regular expression.") == []
