"""The whole `agent fix` path with a ScriptedEngine making real tool calls on a real repo."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import git
import pytest

from agent.config import AgentConfig
from agent.engine import ChatOptions
from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import EngineEvent, ModelError, RunEvent, RunFinished, ToolFinished
from agent.fix import FixRequest, FixRun
from agent.messages import Message, ToolSpec
from agent.session import read_trajectory
from agent.workspace import Workspace, apply_branch
from sandbox.bubblewrap import BubblewrapSandbox
from tests.repos import git as run_git
from tests.repos import median_repo, snapshot

PLAN = ScriptedTurn(text="1. Read stats.py\n2. Fix the even case\n3. Run the tests")
READ = ScriptedTurn(
    text="Read the code.", tool_calls=[{"name": "read_file", "arguments": {"path": "stats.py"}}]
)
FIXED_BODY = "".join(
    [
        "    mid = len(s) // 2\n",
        "    if len(s) % 2 == 0:\n",
        "        return (s[mid - 1] + s[mid]) / 2\n",
        "    return s[mid]\n",
    ]
)
EDIT = ScriptedTurn(
    text="Average the two middle values for even lengths.",
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
                "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n",
            },
        }
    ],
)
TEST = ScriptedTurn(tool_calls=[{"name": "run_tests", "arguments": {}}])
# a change that keeps the bug: the even case still fails
WRONG_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    middle = s[len(s) // 2]\n    return middle\n",
            },
        }
    ]
)
FINISH = ScriptedTurn(
    tool_calls=[{"name": "finish", "arguments": {"summary": "median averages the middle pair"}}]
)


def turns(*items: ScriptedTurn | dict) -> list[ScriptedTurn]:
    return [t if isinstance(t, ScriptedTurn) else ScriptedTurn.model_validate(t) for t in items]


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "user")
    # an uncommitted change and an untracked file the run must not touch
    (repo / "README.md").write_text("# stats\nwork in progress\n")
    (repo / "notes.txt").write_text("my notes\n")
    return repo


def run_fix(repo: Path, engine, task: str = "median of an even-length list is wrong", **kw):
    """One attempt unless the test is about attempts: a stuck script would otherwise start over."""
    events: list[RunEvent] = []
    config = AgentConfig(**{"max_steps": 12, "max_attempts": 1, "repair": "off", **kw})
    run = FixRun(engine, BubblewrapSandbox(), config, events.append)
    report = run.run(FixRequest(task=task, repo=git.Repo(repo)))
    return report, events


def test_scripted_fix_lands_on_branch_and_leaves_checkout_untouched(user_repo: Path) -> None:
    before = snapshot(user_repo)
    report, events = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, EDIT, TEST, FINISH)))

    assert report.status == "resolved", report
    assert report.stop_reason == "finished"
    assert report.tests.ok and report.tests.passed == 2 and report.tests.failed == 0
    assert report.files_changed == ["stats.py"]
    assert report.plan == ["Read stats.py", "Fix the even case", "Run the tests"]
    assert report.branch is not None and report.branch.startswith("agent/median-of-an-even")
    assert report.sandbox == "bubblewrap (workspace, network off)"
    assert snapshot(user_repo) == before

    # the commit on the agent's branch holds the fix and the tests pass there
    fixed = run_git(user_repo, "show", f"{report.branch}:stats.py")
    assert "(s[mid - 1] + s[mid]) / 2" in fixed
    assert (
        report.patch_path
        and "+        return (s[mid - 1] + s[mid]) / 2" in Path(report.patch_path).read_text()
    )
    # the worktree is gone, the trajectory is complete
    assert not any(
        p.name == report.session_id for p in (user_repo / ".git" / ".agent" / "worktrees").glob("*")
    )
    saved = list(read_trajectory(Path(report.trajectory_path or "")))
    assert isinstance(saved[-1], RunFinished) and saved[-1].report["status"] == "resolved"
    assert sum(isinstance(e, ToolFinished) for e in events) >= 4


def test_malformed_model_output_is_reported_not_fatal(user_repo: Path) -> None:
    before = snapshot(user_repo)
    script = turns(
        PLAN,
        {
            "raw": 'Let me look.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "stats.py",}}\n'
            "</tool_call>"
        },
        {"raw": '<tool_call>\n{"name": "read_file", "arguments": {"path": </tool_call>'},  # broken JSON
        {"tool_calls": [{"name": "open_file", "arguments": {"path": "stats.py"}}]},  # unknown tool
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "stats.py", "start_line": "one"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": '{"path": "stats.py"'}]},  # bad JSON string
        {"text": "I think it is fine."},  # no tool call at all
        EDIT,
        TEST,
        FINISH,
    )
    report, events = run_fix(user_repo, ScriptedEngine(script))

    assert report.status == "resolved"
    errors = report.model_errors
    assert errors.get("unknown_tool") == 1
    assert errors.get("schema") == 1
    assert errors.get("parse_error") == 2
    assert errors.get("no_tool_call") == 1
    assert sum(isinstance(e, ModelError) for e in events) == sum(errors.values())
    assert snapshot(user_repo) == before


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
    assert len(refusals) == 1 and "tests fail" in refusals[0].output
    assert report.status == "resolved" and report.tests.ok


def test_run_without_fix_is_not_resolved_and_keeps_nothing(user_repo: Path) -> None:
    before = snapshot(user_repo)
    branches = run_git(user_repo, "branch", "--list")
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, TEST)), max_steps=3)
    assert report.status == "no_change" and report.stop_reason == "max_steps"
    assert report.branch is None and report.commit is None
    assert run_git(user_repo, "branch", "--list") == branches
    assert snapshot(user_repo) == before


def test_repeated_identical_calls_stop_the_run(user_repo: Path) -> None:
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, READ, READ, READ)))
    assert report.stop_reason == "repeated_call"


def test_a_passing_subset_of_the_tests_does_not_let_a_wrong_fix_finish(user_repo: Path) -> None:
    only_odd = ScriptedTurn(
        tool_calls=[{"name": "run_tests", "arguments": {"paths": ["test_stats.py::test_odd"]}}]
    )
    report, events = run_fix(
        user_repo, ScriptedEngine(turns(PLAN, WRONG_EDIT, only_odd, FINISH)), max_steps=3
    )
    refusals = [e for e in events if isinstance(e, ToolFinished) and e.name == "finish" and not e.ok]
    assert refusals and "tests fail" in refusals[0].output  # the loop ran the whole suite itself
    assert report.status == "not_resolved" and report.tests is not None and not report.tests.ok


def test_a_cycle_of_calls_with_no_change_in_between_stops_the_run(user_repo: Path) -> None:
    report, events = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, TEST, READ, TEST, READ, TEST, READ)))
    assert report.stop_reason == "repeated_call"
    assert any("without changing the code" in getattr(e, "message", "") for e in events)


class RecordingEngine(ScriptedEngine):
    """Keeps the sampling temperature of every turn it is asked for."""

    def __init__(self, items: list[ScriptedTurn]) -> None:
        super().__init__(items)
        self.temperatures: list[float] = []
        self.min_ps: list[float | None] = []

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        self.temperatures.append(options.temperature)
        self.min_ps.append(options.min_p)
        return super().chat(messages, tools, options)


def test_after_a_repeated_call_the_next_turn_samples_instead_of_decoding_greedily(user_repo: Path) -> None:
    engine = RecordingEngine(turns(PLAN, READ, READ, READ, READ))
    report, _ = run_fix(user_repo, engine)
    assert report.stop_reason == "repeated_call"
    # plan, first read, then the repeats: from the second identical call on, turns are sampled
    assert engine.temperatures[:3] == [0.0, 0.0, 0.0] and engine.temperatures[3:] == [0.7, 0.7]


class InterruptingEngine(ScriptedEngine):
    """Raises KeyboardInterrupt (the user's Ctrl-C) on its n-th reply."""

    def __init__(self, items: list[ScriptedTurn], at: int) -> None:
        super().__init__(items)
        self.at, self.n = at, 0

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        self.n += 1
        if self.n == self.at:
            raise KeyboardInterrupt
        return super().chat(messages, tools, options)


def test_ctrl_c_leaves_the_repository_exactly_as_it_was(user_repo: Path) -> None:
    before = snapshot(user_repo)
    branches = run_git(user_repo, "branch", "--list")
    with pytest.raises(KeyboardInterrupt):
        run_fix(user_repo, InterruptingEngine(turns(PLAN, READ, EDIT, TEST, FINISH), at=4))
    assert snapshot(user_repo) == before
    assert run_git(user_repo, "branch", "--list") == branches
    assert run_git(user_repo, "worktree", "list").count("\n") == 1


def test_apply_brings_the_change_into_the_working_tree(user_repo: Path) -> None:
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, EDIT, TEST, FINISH)))
    assert report.branch
    files = apply_branch(git.Repo(user_repo), report.branch)
    assert files == ["stats.py"]
    assert "(s[mid - 1] + s[mid]) / 2" in (user_repo / "stats.py").read_text()
    assert (user_repo / "README.md").read_text() == "# stats\nwork in progress\n"  # the user's edit kept
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=user_repo,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_a_context_too_small_for_the_prompt_is_refused_before_any_turn(user_repo: Path) -> None:
    """The run had started (its worktree, its first event): it ends with a report saying why."""
    before = snapshot(user_repo)
    engine = ScriptedEngine(turns(PLAN, READ), context_length=600)
    report, events = run_fix(user_repo, engine)
    assert report.status == "error" and report.stop_reason == "usage_error" and report.steps == 0
    assert re.search(r"raise --ctx to at least \d+", report.notices[0]), report.notices
    assert isinstance(events[-1], RunFinished) and events[-1].report["status"] == "error"
    assert snapshot(user_repo) == before
    assert not run_git(user_repo, "branch", "--list", "agent/*").strip()


def test_a_full_context_is_compacted_and_said_not_cut_silently(user_repo: Path) -> None:
    reads = [
        ScriptedTurn(tool_calls=[{"name": "read_file", "arguments": {"path": "stats.py", "start_line": n}}])
        for n in (1, 2, 3, 1, 2, 3)
    ]
    script = turns(PLAN, *reads, EDIT, TEST, FINISH)
    _, roomy = run_fix(user_repo, ScriptedEngine(script), context_budget=0)  # no repository pack
    largest = max(e.usage.prompt_tokens for e in roomy if getattr(e, "kind", "") == "usage")
    reply_room = 768  # the loop keeps room for one reply of turn_max_tokens
    tight = ScriptedEngine(script, context_length=largest + reply_room - 40)
    report, events = run_fix(user_repo, tight, context_budget=0)
    notices = [e.message for e in events if getattr(e, "kind", "") == "notice"]
    assert any("context compacted" in n for n in notices), notices
    assert report.status == "resolved"


def test_the_setup_step_prepares_the_environment_the_tests_then_use(user_repo: Path) -> None:
    """setup_command runs once with network allowed; the tests run after it, network off, and see it."""
    from sandbox.config import SandboxConfig
    from sandbox.select import build_sandbox, setup_sandbox

    env_dir = user_repo / ".git" / ".agent" / "env"
    tool = '"$AGENT_ENV/bin/t"'
    setup = (
        f'mkdir -p "$AGENT_ENV/bin" && printf "#!/bin/sh\\necho prepared-tool\\n" > {tool} && chmod +x {tool}'
    )
    sandbox_config = SandboxConfig(setup_command=setup)
    events: list[RunEvent] = []
    config = AgentConfig(max_steps=12, test_command="t && python3 -m pytest -q", sandbox=sandbox_config)
    script = ScriptedEngine(turns(PLAN, EDIT, TEST, FINISH))
    run = FixRun(
        script,
        build_sandbox(sandbox_config, env_dir),
        config,
        events.append,
        setup=setup_sandbox(sandbox_config, env_dir),
    )
    report = run.run(FixRequest(task="median of an even-length list is wrong", repo=git.Repo(user_repo)))
    notices = [e.message for e in events if e.kind == "notice"]
    assert any(n.startswith(f"setup `{setup}`: exit code 0") for n in notices), notices
    assert report.status == "resolved" and report.tests.ok
    outputs = [e.output for e in events if isinstance(e, ToolFinished)]
    assert any("prepared-tool" in o for o in outputs)


class ConversationEngine(RecordingEngine):
    """Also keeps the conversation and the tool specs (with their grounded grammars) of every
    turn it is asked for."""

    def __init__(self, items: list[ScriptedTurn]) -> None:
        super().__init__(items)
        self.conversations: list[list[Message]] = []
        self.specs: list[list[ToolSpec]] = []

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        self.conversations.append([m.model_copy(deep=True) for m in messages])
        self.specs.append([t.model_copy(deep=True) for t in tools])
        return super().chat(messages, tools, options)


def test_a_stuck_attempt_is_set_aside_and_the_next_one_starts_from_the_plan(user_repo: Path) -> None:
    before = snapshot(user_repo)
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]  # the 4th identical test run: stuck
    engine = ConversationEngine(turns(PLAN, *stuck, EDIT, TEST, FINISH))
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


def test_a_bug_of_ours_mid_run_ends_with_an_error_report_and_keeps_the_work(
    user_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop 18's benchmark: setting an attempt aside raised inside GitPython and the process died
    with a traceback; a run must end with a report whatever breaks."""
    before = snapshot(user_repo)

    def broken(self: Workspace, journal: object = None) -> str:
        raise RuntimeError("read of closed file")

    monkeypatch.setattr(Workspace, "set_aside", broken)
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]
    engine = ConversationEngine(turns(PLAN, *stuck, EDIT, TEST, FINISH))
    report, _ = run_fix(user_repo, engine, max_steps=20, max_attempts=3)
    assert report.status == "error" and report.stop_reason == "internal_error"
    assert any("internal error, please report it: RuntimeError" in n for n in report.notices)
    assert "middle = s" in report.diff and report.branch  # the attempt's change is kept, verified
    assert report.tests.ran and not report.tests.ok
    assert snapshot(user_repo) == before


def test_a_run_that_used_up_its_steps_is_not_started_again(user_repo: Path) -> None:
    engine = ConversationEngine(turns(PLAN, WRONG_EDIT, TEST, READ, TEST))
    report, _ = run_fix(user_repo, engine, max_steps=4, max_attempts=3)
    assert report.stop_reason == "max_steps" and report.attempts == 1
    assert report.status == "not_resolved" and "middle = s" in report.diff


UNDO_WRONG_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    middle = s[len(s) // 2]\n    return middle\n",
                "new_text": "    return s[len(s) // 2]\n",
            },
        }
    ]
)


def test_edits_that_go_back_and_forth_between_two_versions_are_a_repeat(user_repo: Path) -> None:
    cycle = [WRONG_EDIT, TEST, UNDO_WRONG_EDIT, TEST]
    engine = ConversationEngine(turns(PLAN, *cycle * 3))
    report, events = run_fix(user_repo, engine, max_steps=20, test_after_edit=False)
    assert report.stop_reason == "repeated_call" and report.steps == 9  # the 4th return to a version
    assert any(
        "put the code back to a version it had before 4 times" in getattr(e, "message", "") for e in events
    )
    # the first return (step 3) is told so, and the turn after it is sampled
    told = [m.content for m in engine.conversations[4] if m.role == "tool"][-1]
    assert told.startswith("[This edit put the code back exactly as it was earlier")
    assert engine.temperatures[1:5] == [0.0, 0.0, 0.0, 0.7]


def _rename_edit(before: int, after: int) -> ScriptedTurn:
    """A change that keeps the bug: the middle value under another name (0: the original line)."""

    def body(i: int) -> str:
        return "    return s[len(s) // 2]\n" if i == 0 else f"    m{i} = s[len(s) // 2]\n    return m{i}\n"

    arguments = {"path": "stats.py", "old_text": body(before), "new_text": body(after)}
    return ScriptedTurn(tool_calls=[{"name": "edit_file", "arguments": arguments}])


def test_the_tests_run_after_each_edit_and_come_back_with_it(user_repo: Path) -> None:
    engine = ConversationEngine(turns(PLAN, WRONG_EDIT, UNDO_WRONG_EDIT, EDIT, FINISH))
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


BREAKING_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    return s[0]\n",
            },
        }
    ]
)


def test_an_edit_that_makes_more_tests_fail_is_undone(user_repo: Path) -> None:
    # EDIT's old_text is the original line: it applies only if the breaking edit was undone
    engine = ConversationEngine(turns(PLAN, BREAKING_EDIT, EDIT, FINISH))
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
    engine = ConversationEngine(turns(PLAN, create, EDIT, FINISH))
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
    engine = ConversationEngine(turns(PLAN, empty, WRONG_EDIT, narrow, UNDO_WRONG_EDIT, EDIT, FINISH))
    report, events = run_fix(user_repo, engine)
    runs = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    selections = [(r.call_id.startswith("tests_"), r.data.get("passed"), r.data.get("failed")) for r in runs]
    # baseline; the model's empty run; the whole suite after WRONG_EDIT; the model's `-k even`;
    # then `-k even` after each later edit
    assert selections[2] == (True, 1, 1) and selections[4:6] == [(True, 0, 1), (True, 1, 0)]
    assert selections[6:] == [(False, 2, 0)]  # finish verifies with the whole suite
    assert report.status == "resolved"


def test_edits_that_leave_as_many_tests_failing_end_the_attempt(user_repo: Path) -> None:
    edits = [_rename_edit(i, i + 1) for i in range(6)]
    engine = ConversationEngine(turns(PLAN, *edits))
    report, events = run_fix(user_repo, engine, max_steps=20)
    # one test fails before any change; three edits that leave it failing end the attempt
    assert report.stop_reason == "no_improvement" and report.steps == 3
    assert any("3 edits in a row left as many tests failing" in getattr(e, "message", "") for e in events)


def test_an_attempt_that_does_not_improve_is_retried(user_repo: Path) -> None:
    edits = [_rename_edit(i, i + 1) for i in range(3)]
    engine = ConversationEngine(turns(PLAN, *edits, EDIT, FINISH))
    report, _ = run_fix(user_repo, engine, max_steps=20, max_attempts=2)
    assert report.status == "resolved" and report.attempts == 2
    note = engine.conversations[-2][3].content  # the retried attempt starts told what happened
    assert "kept making edits that did not make fewer tests fail" in note


class SlowEngine(ScriptedEngine):
    """Takes `seconds` for every reply, as a model on a slow CPU does."""

    def __init__(self, items: list[ScriptedTurn], seconds: float) -> None:
        super().__init__(items)
        self.seconds = seconds

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        time.sleep(self.seconds)
        return super().chat(messages, tools, options)


def test_no_step_is_started_that_would_end_past_the_time_budget(user_repo: Path) -> None:
    reads = [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "stats.py", "start_line": n}}]}
        for n in range(1, 6)
    ]
    engine = SlowEngine(turns(PLAN, *reads), seconds=0.5)
    started = time.monotonic()
    report, events = run_fix(user_repo, engine, max_minutes=1.8 / 60, test_after_edit=False)
    # plan 0.5 s + 2 steps of ~0.5 s leave ~0.3 s: too little for another step, so none is started
    assert report.stop_reason == "max_time" and report.steps in (1, 2)
    assert any("nearly used up" in getattr(e, "message", "") for e in events), report.notices
    assert time.monotonic() - started < 1.8 + 5  # the loop within its budget (+ worktree setup, report)


def test_when_no_attempt_fixes_it_the_best_attempts_change_is_what_the_run_leaves(user_repo: Path) -> None:
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]  # attempt 1: a change, then stuck
    engine = ConversationEngine(turns(PLAN, *stuck))  # attempt 2: the script is over, no calls
    report, events = run_fix(user_repo, engine, max_steps=20, max_attempts=2)
    assert report.attempts == 2 and report.status == "not_resolved"
    assert "+    middle = s[len(s) // 2]" in report.diff  # attempt 1's change, not attempt 2's nothing
    assert any("kept the change of attempt 1 (1 failing tests)" in getattr(e, "message", "") for e in events)
    journal = Path(report.trajectory_path or "").with_suffix(".edits").read_text()
    assert '"tool":"restore_attempt"' in journal.replace(" ", "")


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
    engine = ConversationEngine(turns(*script))
    # without tests after edits: with them the change was tested already
    report, events = run_fix(user_repo, engine, max_steps=12, max_attempts=2, test_after_edit=False)
    assert report.status == "resolved" and report.stop_reason == "finished" and report.attempts == 2
    refusal = engine.conversations[3][-1].content
    assert "old_text and new_text are the same" in refusal
    assert "The tests, run on the code as it is now:" in refusal and "test_even" in refusal
    notices = [getattr(e, "message", "") for e in events]
    assert any("changes nothing twice" in n for n in notices)
    assert engine.conversations[4][3].content.startswith("[Attempt 1 did not fix the issue")
