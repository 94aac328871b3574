"""The Textual app: watch the agent work, steer it, and review its change.

Attributes down, messages up: the run (engine, loop, tools) lives in a thread worker and posts
`RunEventMessage`s; the views below only ever change on the UI thread.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from agent.build import fix_run
from agent.engines.base import Engine, EngineError
from agent.events import (
    Interrupted,
    ModelDelta,
    PlanProgress,
    PlanSet,
    RunEvent,
    RunFinished,
    RunStarted,
    StepStarted,
    ToolFinished,
    TurnUsage,
    UserGuidance,
)
from agent.run.fix import FixRequest
from agent.run.session import read_trajectory
from agent.run.workspace import WorkspaceError, apply_branch, discard_branch, live_diff
from agent.steering import Steering
from agent.tui.bridge import (
    ApprovalNeeded,
    EngineReady,
    Progress,
    RunEnded,
    RunEventMessage,
    TuiApprover,
    TuiSetup,
)
from agent.tui.changes import ChangesView
from agent.tui.conversation import Conversation, PlanView
from agent.tui.prompt import PromptInput
from agent.tui.screens import ApprovalScreen, HelpScreen, SessionPicker
from agent.tui.sessions import session_rows
from agent.tui.status import StatusBar
from sandbox.bubblewrap import SandboxUnavailable
from tools.base import may_change_code
from tools.registry import available_tools

LIVE_RATE_SECONDS = 0.5
TOOL_KINDS = {tool.name: tool.kind for tool in available_tools()}  # ours; an MCP tool's is not known here
WELCOME = (
    "Type a task below and press enter: the agent works on its own branch, your checkout is "
    "untouched until you accept.  ? keys · ctrl+p commands · ctrl+r sessions"
)


def settle_garbage_collector() -> None:
    """Move what exists now (the model, Textual's own objects) out of the collector's way.

    Without it every full collection walks them all and pauses the UI for 100-400 ms while the
    model streams (measured with tests/bench/bench_tui.py); a collect first frees what is garbage.
    """
    gc.collect()
    gc.freeze()


class AgentApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agent"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 (an instance variable in App)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "Interrupt", priority=True),
        Binding("escape", "escape", "Interrupt / leave prompt", show=False),
        Binding("ctrl+t", "toggle_view", "Conversation/Changes", priority=True),
        Binding("ctrl+r", "pick_session", "Sessions", show=False, priority=True),
        Binding("f1", "help", "Help", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, setup: TuiSetup) -> None:
        super().__init__()
        self.setup = setup
        self.engine: Engine | None = None
        self.steering: Steering | None = None
        self.running = False
        self.pending_task: str | None = None
        self.quitting = False
        self.worktree: Path | None = None
        self.last_report: dict[str, object] | None = None
        self._run_started_at: float | None = None
        self._turn_deltas = 0
        self._turn_started: float | None = None
        self._rate_shown = 0.0
        self.latencies: list[float] = []  # seconds from emit to handled, per event (the benchmark)

    # ---- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with TabbedContent(id="views"):
                with TabPane("Conversation", id="conversation-tab"):
                    yield Conversation(id="conversation")
                with TabPane("Changes", id="changes-tab"):
                    yield ChangesView(id="changes")
            with Vertical(id="side"):  # shown on wide terminals only
                yield Static("", id="side-info", markup=False)
                yield PlanView([], id="side-plan")
        yield PromptInput(id="prompt", placeholder="Describe the bug or task; enter sends")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.conversation.clock = self.setup.clock
        self.conversation.say(WELCOME, "welcome")
        if notice := self.setup.config.untrusted_notice():  # before the engine loads: it may be why
            self.conversation.say(f"warning: {notice}", "notice warning")
        self.set_interval(1.0, self._tick_clock)
        self.query_one(PromptInput).focus()
        if self.setup.resume is not None:
            self.replay(self.setup.resume)
        if self.setup.pick_session:
            self.action_pick_session()
        if self.setup.task:
            self.start_task(self.setup.task)
        self.status.set(engine="loading model…")
        self._load_engine()

    @property
    def conversation(self) -> Conversation:
        return self.query_one("#conversation", Conversation)

    @property
    def changes(self) -> ChangesView:
        return self.query_one("#changes", ChangesView)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    # ---- the engine and the run (workers) ----------------------------------------------------

    @work(thread=True, exclusive=True, group="engine")
    def _load_engine(self) -> None:
        try:
            engine = self.setup.build_engine(self._say)
        except Exception as exc:  # shown to the user; the app stays usable for replays
            self.post_message(EngineReady(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EngineReady(engine))

    def _say(self, text: str) -> None:
        self.post_message(Progress(text))

    def on_engine_ready(self, message: EngineReady) -> None:
        if message.engine is None:
            self.status.set(engine="no engine")
            self.conversation.say(f"error: the engine did not load: {message.error}", "notice error")
            return
        self.engine = message.engine
        self.status.set(engine=message.engine.name, model=message.engine.model)
        settle_garbage_collector()
        if self.pending_task:
            task, self.pending_task = self.pending_task, None
            self.start_task(task)

    def on_progress(self, message: Progress) -> None:
        self.conversation.say(message.text, "meta")

    def start_task(self, task: str) -> None:
        if self.engine is None:
            self.pending_task = task
            self.conversation.say(f"queued until the model is loaded: {task}", "meta")
            return
        self._clear_views()
        self.steering = Steering()
        self.running = True
        self.last_report = None
        self._run_started_at = self.setup.clock()
        self.status.set(state="starting", step=0, elapsed=0.0, plan_done=0, plan_total=0)
        self._run(task, self.engine, self.steering)

    @work(thread=True, exclusive=True, group="run")
    def _run(self, task: str, engine: Engine, steering: Steering) -> None:
        approver = TuiApprover(self.post_message, lambda: self.steering)
        try:
            run = fix_run(
                engine, self.setup.build_sandboxes(approver), self.setup.config, self._emit, steering
            )
            report = run.run(FixRequest(task=task, repo=self.setup.repo))
        except (EngineError, WorkspaceError, SandboxUnavailable) as exc:
            self.post_message(RunEnded(None, str(exc)))
            return
        self.post_message(RunEnded(report))

    def _emit(self, event: RunEvent) -> None:
        """Called on the worker thread for every event of the run."""
        self.post_message(RunEventMessage(event, time.perf_counter()))

    def on_run_event_message(self, message: RunEventMessage) -> None:
        self.show_event(message.event)
        self.latencies.append(time.perf_counter() - message.sent_at)

    def on_run_ended(self, message: RunEnded) -> None:
        self.running = False
        self.steering = None
        if message.error:
            self.conversation.say(f"error: {message.error}", "notice error")
            self.status.set(state="error")
        if self.quitting:
            self.exit()

    # ---- events into the views ---------------------------------------------------------------

    def show_event(self, event: RunEvent) -> None:
        """Live or replayed: one event into the conversation, the status bar and the changes."""
        self.conversation.show(event)
        if isinstance(event, ModelDelta):
            self._count_delta()
        elif isinstance(event, RunStarted):
            self.worktree = Path(event.worktree)
            self.status.set(engine=event.engine, model=event.model, sandbox=event.sandbox, state="running")
            info = f"{event.task}\n\nbranch  {event.branch}\nsession {event.session_id}"
            self.query_one("#side-info", Static).update(info)
        elif isinstance(event, PlanSet):
            self.status.set(plan_total=len(event.steps), plan_done=0)
            self.query_one("#side-plan", PlanView).set_steps(event.steps)
        elif isinstance(event, PlanProgress):
            self.status.set(plan_done=len(event.done))
            self.query_one("#side-plan", PlanView).tick(event.done)
        elif isinstance(event, StepStarted):
            self.status.set(step=event.step, state="running")
        elif isinstance(event, TurnUsage):
            self._turn_usage(event)
        elif isinstance(event, Interrupted):
            self.status.set(state="paused")
        elif isinstance(event, UserGuidance):
            self.status.set(state="running")
        elif isinstance(event, ToolFinished) and self._may_change_code(event.name) and self.running:
            self._refresh_live_diff()
        elif isinstance(event, RunFinished):
            self._run_finished(event.report)

    @staticmethod
    def _may_change_code(tool: str) -> bool:
        """After such a call the live diff is read again (tools/base.py `may_change_code`)."""
        return may_change_code(TOOL_KINDS.get(tool), tool)

    def _count_delta(self) -> None:
        """The live decode rate of this turn, shown twice a second (a redraw per token costs)."""
        now = self.setup.clock()
        if self._turn_started is None:
            self._turn_started, self._turn_deltas, self._rate_shown = now, 0, now
        self._turn_deltas += 1
        if now - self._rate_shown >= LIVE_RATE_SECONDS:
            self._rate_shown = now
            rate = (self._turn_deltas - 1) / (now - self._turn_started)
            self.status.set(tokens_per_second=rate, live_rate=True)

    def _turn_usage(self, event: TurnUsage) -> None:
        self._turn_started = None
        u = event.usage
        self.status.set(
            context_tokens=event.context_tokens,
            context_budget=event.context_budget,
            prefilled=u.prefilled_tokens,
            cached=u.cached_tokens,
            tokens_per_second=u.decode_tokens_per_second,
            live_rate=False,
            drafted=u.drafted_tokens,
            accepted=u.accepted_tokens,
        )

    def _run_finished(self, report: dict[str, object]) -> None:
        self.last_report = report
        branch = report.get("branch")
        self.changes.show_diff(str(report.get("diff") or ""), str(branch) if branch else None, final=True)
        elapsed = report.get("elapsed_seconds")
        self.status.set(state=f"done: {report.get('status')}")
        if isinstance(elapsed, int | float):
            self.status.set(elapsed=float(elapsed))
        self._run_started_at = None
        if branch and report.get("diff") and self.running:
            self.notify(f"change on {branch}: ctrl+t to review, then accept / reject / keep", timeout=6)

    @work(thread=True, exclusive=True, group="diff")
    def _refresh_live_diff(self) -> None:
        if self.worktree is None or not self.worktree.is_dir():
            return
        try:
            diff = live_diff(self.worktree, "HEAD")
        except Exception:  # the worktree went away (the run ended): the final diff follows
            return
        self.call_from_thread(self._show_live_diff, diff)

    def _show_live_diff(self, diff: str) -> None:
        if self.running:
            self.changes.show_diff(diff, None, final=False)

    def _tick_clock(self) -> None:
        if self._run_started_at is not None:
            self.status.set(elapsed=self.setup.clock() - self._run_started_at)
            self.conversation.tick(self.setup.clock())

    # ---- replaying a session -----------------------------------------------------------------

    def _clear_views(self) -> None:
        self.conversation.clear()
        self.changes.show_diff("", None, final=False)
        self.query_one("#side-plan", PlanView).set_steps([])
        self.query_one("#side-info", Static).update("")

    def replay(self, path: Path) -> None:
        """Reopen a recorded session: its trajectory replayed into the views."""
        self._clear_views()
        self.conversation.say(f"session {path.stem} (replayed from {path.name})", "meta")
        for event in read_trajectory(path):
            self.show_event(event)
        if self.last_report is None:
            self.conversation.say("this session never finished (the app or the machine stopped)", "notice")
            self.status.set(state="replayed")

    # ---- input -------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def _submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        if self.running and self.steering is not None:
            self.steering.guide(text)
            if text:
                self.notify("guidance queued: the agent reads it before its next step", timeout=3)
        elif text:
            self.start_task(text)

    def action_interrupt(self) -> None:
        if isinstance(self.screen, ApprovalScreen):
            self.screen.action_answer("deny")
        elif self.running and self.steering is not None:
            if self.steering.interrupted:
                self.steering.stop()
                self.status.set(state="stopping")
                self.notify("ending the run: the report follows")
            else:
                self.steering.interrupt()
                self.status.set(state="interrupting")
        else:
            self.query_one(PromptInput).clear()

    def action_escape(self) -> None:
        if self.running and self.steering is not None and not self.steering.interrupted:
            self.action_interrupt()
        elif self.focused is self.query_one(PromptInput):
            self.conversation.focus()

    def action_toggle_view(self) -> None:
        views = self.query_one("#views", TabbedContent)
        if views.active == "conversation-tab":
            views.active = "changes-tab"
            self.query_one("#changes-files").focus()
        else:
            views.active = "conversation-tab"
            self.query_one(PromptInput).focus()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen())

    def action_pick_session(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.replay(path)

        if self.running:
            self.notify("a run is in progress: reopen a session when it is over", severity="warning")
            return
        self.push_screen(SessionPicker(session_rows(self.setup.repo)), chosen)

    async def action_quit(self) -> None:
        if self.running and self.steering is not None and not self.quitting:
            self.quitting = True
            self.steering.stop()
            self.status.set(state="stopping")
            self.notify("stopping the run before quitting (q again quits at once)")
            return
        self.exit()

    # ---- approvals and the change ------------------------------------------------------------

    def on_approval_needed(self, message: ApprovalNeeded) -> None:
        self.bell()
        self.push_screen(ApprovalScreen(message.request), lambda decision: message.answer(decision or "deny"))

    @on(ChangesView.Decided)
    def _decided(self, message: ChangesView.Decided) -> None:
        branch = self.changes.branch
        if branch is None:
            return
        try:
            if message.action == "accept":
                files = apply_branch(self.setup.repo, branch)
                done = f"applied to your working tree: {', '.join(files)} (branch {branch} kept)"
            elif message.action == "reject":
                discard_branch(self.setup.repo, branch)
                done = f"rejected: branch {branch} deleted, your working tree untouched"
            else:
                done = f"kept on branch {branch}: `agent apply {branch}` applies it later"
        except WorkspaceError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.changes.settled(done)
        self.conversation.say(done, "notice")
        self.notify(done)

    # ---- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Interrupt", "Interrupt the model (the session goes on)", self.action_interrupt)
        yield SystemCommand("Show changes / conversation", "Switch views", self.action_toggle_view)
        yield SystemCommand("Reopen a session", "Replay a recorded session", self.action_pick_session)
        yield SystemCommand("Keyboard help", "Every key", self.action_help)
        yield SystemCommand(
            "Light theme", "Colours for a light terminal", lambda: self._theme("textual-light")
        )
        yield SystemCommand("Dark theme", "Colours for a dark terminal", lambda: self._theme("textual-dark"))
        if self.changes.final:
            for action in ("accept", "reject", "keep"):
                yield SystemCommand(
                    f"Change: {action}",
                    f"{action} the agent's branch",
                    lambda a=action: self.changes.action_decide(a),
                )

    def _theme(self, name: str) -> None:
        self.theme = name
