"""The TUI driven through Textual's Pilot: a real temp repo, the scripted engine, real tools."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
from textual.widgets import Collapsible
from textual.widgets.collapsible import CollapsibleTitle

from agent.build import fix_run
from agent.config import AgentConfig
from agent.engines.scripted import ScriptedTurn
from agent.events import Interrupted, ModelText, PlanProgress, RunStarted, UserGuidance
from agent.run.fix import FixRequest
from agent.run.session import Trajectory, read_trajectory
from agent.tui.changes import ChangesView
from agent.tui.conversation import ModelReply, PlanView, ToolCard
from agent.tui.prompt import PromptInput
from agent.tui.screens import ApprovalScreen, HelpScreen, SessionPicker
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import median_repo, snapshot
from tests.sandboxes import sandboxes
from tests.tui_support import answer_approvals, make_app, paced, scripted, type_text, wait_for

FIXED = "(s[mid - 1] + s[mid]) / 2"
SHELL = {"tool_calls": [{"name": "shell", "arguments": {"command": "echo checked > shell-approved.txt"}}]}
LONG_PLAN = "1. Read stats.py to see how the median is computed for lists of any length " + " ".join(
    f"word{i}" for i in range(80)
)


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return median_repo(tmp_path / "user")


def script_turns(*extra_after_edit: dict) -> list[ScriptedTurn]:
    items = json.loads(Path("tests/data/median_fix_script.json").read_text())
    items[3:3] = list(extra_after_edit)  # before run_tests
    return [ScriptedTurn.model_validate(item) for item in items]


def cards(app) -> dict[str, ToolCard]:
    return {card.call.name: card for card in app.query(ToolCard)}


def shell_once_tests_always(command: str) -> str:
    """The shell command approved once (`y`), the test runs for good (`a`)."""
    return "y" if "shell-approved" in command else "a"


async def test_full_task_streams_cards_approves_and_accepts(repo: Path) -> None:
    engine = paced(scripted(script_turns(SHELL)), tokens_per_second=400)
    app = make_app(repo, engine, approval="always")
    before = snapshot(repo)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await type_text(pilot, "median of an even list is wrong")
        await pilot.press("enter")
        # the plan streams in word by word before it becomes the plan
        await wait_for(pilot, lambda: app.query(ModelReply) or app.query(PlanView))
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        asking = app.screen
        assert isinstance(asking, ApprovalScreen) and "approval = always" in asking.request.reason
        assert snapshot(repo) == before  # nothing reaches the user's tree while the agent works
        asked = await answer_approvals(pilot, app, shell_once_tests_always)
        await pilot.pause()
        assert [c for c in asked if "shell-approved" in c] == ["echo checked > shell-approved.txt"]
        assert len(set(asked)) == len(asked)  # `a` (always) is remembered: no command asked twice

        assert app.last_report and app.last_report["status"] == "resolved"
        assert "approval always (asked in the TUI)" in str(app.last_report["sandbox"])
        shown = cards(app)
        assert {"read_file", "edit_file", "shell", "run_tests", "finish"} <= set(shown)
        assert shown["shell"].finished and shown["shell"].finished.ok
        assert shown["run_tests"].finished and "2 passed" in shown["run_tests"].finished.output
        plan = app.query_one(PlanView)
        assert plan.steps == ["Read stats.py", "Fix the even case", "Run the tests"]
        assert plan.done == [0, 1, 2]
        assert app.status.status.step >= 4 and app.status.status.engine == "scripted"
        assert len(app.latencies) > 20  # every streamed word went through the message queue

        await pilot.press("ctrl+t")
        view = app.query_one(ChangesView)
        assert [f.path for f in view.files] == ["shell-approved.txt", "stats.py"]
        assert view.final and view.branch and view.branch.startswith("agent/median-of-an-even")
        await pilot.press("a")
        await pilot.pause()
    assert FIXED in (repo / "stats.py").read_text()
    assert (repo / "shell-approved.txt").read_text() == "checked\n"


async def test_denied_command_does_not_run(repo: Path) -> None:
    app = make_app(repo, scripted(script_turns(SHELL)), approval="always")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        app.start_task("median of an even list is wrong")
        asked = await answer_approvals(pilot, app, lambda c: "n" if "shell-approved" in c else "a")
        assert "echo checked > shell-approved.txt" in asked
        shell = cards(app)["shell"].finished
        assert shell is not None and not shell.ok and "did not approve this command" in shell.output
        assert app.last_report and app.last_report["files_changed"] == ["stats.py"]


async def test_interrupt_then_guidance_continues_the_same_session(repo: Path) -> None:
    turns = [ScriptedTurn(text=LONG_PLAN), *script_turns()[1:]]
    engine = RecordingEngine(paced(scripted(turns), tokens_per_second=40))
    app = make_app(repo, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await type_text(pilot, "fix the median")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query(ModelReply))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.status.status.state == "paused")
        partial = [e for e in app.query(ModelReply)]
        assert partial  # the streamed part stays on screen
        await type_text(pilot, "only change stats")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.last_report is not None)
        report = app.last_report
    assert report and report["status"] == "resolved"
    events = list(read_trajectory(Path(str(report["trajectory_path"]))))
    interrupted = next(e for e in events if isinstance(e, Interrupted))
    assert 0 < len(interrupted.partial_text) < len(LONG_PLAN)  # cut short mid-stream
    assert any(isinstance(e, UserGuidance) and e.text == "only change stats" for e in events)
    later = engine.conversations[1]  # the model's next request holds the guidance
    assert any("only change stats" in m.content for m in later if m.role == "user")


async def test_ctrl_c_twice_ends_the_run_and_keeps_the_session(repo: Path) -> None:
    turns = [ScriptedTurn(text=LONG_PLAN), *script_turns()[1:]]
    app = make_app(repo, paced(scripted(turns), tokens_per_second=40))
    before = snapshot(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        app.start_task("fix the median")
        await wait_for(pilot, lambda: app.query(ModelReply))
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.status.status.state == "paused")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.last_report is not None and not app.running)
        report = app.last_report
    assert report and report["stop_reason"] == "interrupted" and report["status"] == "no_change"
    assert Path(str(report["trajectory_path"])).is_file()
    assert snapshot(repo) == before


async def test_resume_replays_a_session_and_its_change_can_be_accepted(repo: Path) -> None:
    run = fix_run(scripted(), sandboxes(repo), AgentConfig(max_steps=12), lambda e: None)
    report = run.run(FixRequest(task="median of an even list is wrong", repo=git.Repo(repo)))
    assert report.trajectory_path and report.branch
    app = make_app(repo, scripted(), resume=Path(report.trajectory_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(PlanView).done == [0, 1, 2]
        shown = cards(app)
        assert {"read_file", "edit_file", "run_tests", "finish"} <= set(shown)
        more = shown["edit_file"].query_one(".tool-more", Collapsible)  # long output folded away
        assert more.display and more.collapsed and more.title.endswith("more lines")
        assert app.status.status.state == "done: resolved"
        await pilot.press("ctrl+t")
        await pilot.press("k")  # keep: nothing changes
        await pilot.pause()
        assert FIXED not in (repo / "stats.py").read_text()
        assert report.branch in run_git(repo, "branch", "--list")


async def test_reject_deletes_the_branch_and_leaves_the_tree(repo: Path) -> None:
    app = make_app(repo, scripted())
    before = snapshot(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        app.start_task("median of an even list is wrong")
        await wait_for(pilot, lambda: app.last_report is not None)
        branch = str((app.last_report or {})["branch"])
        await pilot.press("ctrl+t", "r")
        await pilot.pause()
    assert branch not in run_git(repo, "branch", "--list")
    assert snapshot(repo) == before


async def test_prompt_is_multi_line_and_help_opens(repo: Path) -> None:
    app = make_app(repo, scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        await type_text(pilot, "first line\\")
        await pilot.press("enter")
        await type_text(pilot, "second")
        await pilot.press("ctrl+j")
        await type_text(pilot, "third")
        prompt = app.query_one(PromptInput)
        assert prompt.text == "first line\nsecond\nthird"
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0


def test_plan_progress_is_in_the_trajectory(repo: Path) -> None:
    events: list = []
    run = fix_run(scripted(), sandboxes(repo), AgentConfig(max_steps=12), events.append)
    run.run(FixRequest(task="median", repo=git.Repo(repo)))
    ticks = [e.done for e in events if isinstance(e, PlanProgress)]
    assert ticks == [[0], [0, 1], [0, 1, 2]]  # read, then edit, then passing tests


async def test_thinking_is_collapsed_and_expands(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "thinking.jsonl"
    trajectory = Trajectory(tmp_path, "thinking")
    for event in (
        RunStarted(session_id="s", task="t", engine="e", model="m", branch="b", worktree="/w", sandbox="x"),
        ModelText(text="The fix is in stats.py.", thinking="the median of an even list averages two"),
    ):
        trajectory.write(event)
    trajectory.close()
    app = make_app(repo, scripted(), resume=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.query_one(".thinking", Collapsible)
        assert box.display and box.collapsed and box.title == "thinking (8 words)"
        await pilot.click(CollapsibleTitle)
        assert not box.collapsed


async def test_resume_without_an_id_offers_the_sessions(repo: Path) -> None:
    run = fix_run(scripted(), sandboxes(repo), AgentConfig(max_steps=12), lambda e: None)
    report = run.run(FixRequest(task="median of an even list is wrong", repo=git.Repo(repo)))
    app = make_app(repo, scripted(), pick_session=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionPicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.last_report is not None)
        assert app.last_report and app.last_report["session_id"] == report.session_id
