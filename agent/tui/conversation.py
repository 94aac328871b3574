"""The conversation view: the task, the plan, the model's replies and a card per tool call.

`Conversation.show(event)` takes every `RunEvent`, live or replayed from a trajectory; live runs
also send `ModelDelta`s, which stream into the current reply token by token.
"""

from __future__ import annotations

import json
import time

from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from agent.events import (
    Interrupted,
    ModelDelta,
    ModelError,
    ModelText,
    Notice,
    PlanProgress,
    PlanSet,
    RunEvent,
    RunFinished,
    RunStarted,
    StepStarted,
    ToolFinished,
    ToolStarted,
    UserGuidance,
)
from agent.messages import ToolCall

FRAME_SECONDS = 1 / 30  # streamed text is redrawn at most this often
PREVIEW_LINES = 4  # tool output lines shown before "N more lines"
ARG_SUMMARY_KEYS = ("path", "command", "pattern", "query", "summary")


class PlanView(Static):
    """The numbered plan; ticked steps are checked, the first unticked one is the current step."""

    def __init__(self, steps: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.steps = steps
        self.done: list[int] = []
        self.update(self._content())

    def set_steps(self, steps: list[str]) -> None:
        self.steps, self.done = steps, []
        self.update(self._content())

    def tick(self, done: list[int]) -> None:
        self.done = done
        self.update(self._content())

    def _content(self) -> Content:
        if not self.steps:
            return Content.styled("(no plan)", "$text-muted")
        current = next((i for i in range(len(self.steps)) if i not in self.done), None)
        lines = [Content.styled("Plan", "bold")]
        for index, step in enumerate(self.steps):
            if index in self.done:
                mark, style = "✓", "$text-success"
            elif index == current:
                mark, style = "▶", "bold $text-accent"
            else:
                mark, style = "○", "$text-muted"
            lines.append(Content.assemble((f" {mark} {index + 1}. ", style), step))
        return Content("\n").join(lines)


class ModelReply(Vertical):
    """One model turn: thinking (collapsed) and text, streamed in as they arrive.

    The children are built here, not in `compose`, so deltas arriving before the mount land too.
    """

    def __init__(self) -> None:
        self._body = Static("", markup=False, classes="reply-text")
        self._thought = Static("", markup=False, classes="thinking-text")
        self._box = Collapsible(self._thought, title="thinking", collapsed=True, classes="thinking")
        self._box.display = False
        super().__init__(self._box, self._body, classes="reply")
        self._text: list[str] = []
        self._thinking: list[str] = []

    def add(self, text: str, thinking: bool) -> None:
        """Keep a streamed piece; `flush` shows what arrived (once per frame, not per token)."""
        (self._thinking if thinking else self._text).append(text)

    def flush(self) -> None:
        if self._thinking:
            self._show_thinking("".join(self._thinking))
        self._body.update("".join(self._text).lstrip("\n"))

    def finish(self, text: str, thinking: str) -> None:
        """The whole message: replaces what was streamed (the engine strips call markup)."""
        if thinking:
            self._show_thinking(thinking)
        self._body.update(text)
        self._body.display = bool(text.strip())

    def _show_thinking(self, thinking: str) -> None:
        self._box.display = True
        self._box.title = f"thinking ({len(thinking.split())} words)"
        self._thought.update(thinking)


def summarise_args(call: ToolCall) -> str:
    """One line for the card header: the argument that says most, else compact JSON."""
    if call.parse_error:
        return (call.raw_arguments or "")[:200]
    args = call.arguments
    for key in ARG_SUMMARY_KEYS:
        if key in args:
            extra = ""
            if "start_line" in args or "end_line" in args:
                extra = f":{args.get('start_line', 1)}-{args.get('end_line', '')}"
            return f"{args[key]}{extra}".splitlines()[0][:200] if str(args[key]) else ""
    return json.dumps(args, ensure_ascii=False)[:200] if args else ""


def status_text(event: ToolFinished) -> tuple[str, str]:
    """("✓ exit 0 · 0.12s", style) for the card's header."""
    code = event.data.get("exit_code")
    detail = f"exit {code}" if code is not None else ("ok" if event.ok else "failed")
    if event.data.get("timed_out"):
        detail = "timed out"
    mark = "✓" if event.ok else "✗"
    return f"{mark} {detail} · {event.seconds:.2f}s", "$text-success" if event.ok else "$text-error"


class ToolCard(Vertical):
    """A tool call: name, arguments, then its status, duration and (collapsed) output."""

    def __init__(self, call: ToolCall) -> None:
        self.call = call
        self.finished: ToolFinished | None = None
        self._head = Static(self._header(("… running", "$text-warning")), classes="tool-header")
        self._output = Static("", markup=False, classes="tool-output")
        self._rest = Static("", markup=False)
        self._more = Collapsible(self._rest, title="more", collapsed=True, classes="tool-more")
        self._output.display = self._more.display = False
        children: list[Widget] = [self._head]
        compact = call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False)
        if len(compact) > 60 or "\\n" in compact:
            full = call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False, indent=1)
            args = Static(full, markup=False)
            children.append(Collapsible(args, title="arguments", collapsed=True, classes="tool-args"))
        super().__init__(*children, self._output, self._more, classes="tool-card running")

    def running_for(self, seconds: float) -> None:
        """While the tool runs: how long so far (a test run can take minutes)."""
        if self.finished is None:
            self._head.update(self._header((f"… running {seconds:.0f}s", "$text-warning")))

    def _header(self, status: tuple[str, str]) -> Content:
        return Content.assemble(
            (f"⚙ {self.call.name} ", "bold $text-primary"),
            (summarise_args(self.call), "$text-muted"),
            "  ",
            status,
        )

    def finish(self, event: ToolFinished) -> None:
        self.finished = event
        self.remove_class("running")
        self.add_class("ok" if event.ok else "failed")
        self._head.update(self._header(status_text(event)))
        lines = event.output.rstrip("\n").splitlines()
        self._output.update("\n".join(lines[:PREVIEW_LINES]))
        self._output.display = bool(lines)
        if len(lines) > PREVIEW_LINES:
            self._rest.update("\n".join(lines[PREVIEW_LINES:]))
            self._more.title = f"{len(lines) - PREVIEW_LINES} more lines"
            self._more.display = True


class Conversation(VerticalScroll):
    """The transcript of a run; stays scrolled to the bottom until the user scrolls up."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._reply: ModelReply | None = None
        self._cards: dict[str, ToolCard] = {}
        self.plan: PlanView | None = None
        self._unflushed: set[ModelReply] = set()
        self._running_card: tuple[ToolCard, float] | None = None
        self.clock = time.monotonic

    def on_mount(self) -> None:
        self.anchor()

    def clear(self) -> None:
        self._reply = None
        self._cards = {}
        self.plan = None
        self._unflushed.clear()
        self._running_card = None
        self.remove_children()

    def say(self, text: str, classes: str = "notice") -> None:
        self.mount(Static(text, markup=False, classes=classes))

    def show(self, event: RunEvent) -> None:
        """Add one event to the transcript."""
        if isinstance(event, ModelDelta):
            reply = self._current_reply()
            reply.add(event.text, event.thinking)
            if not self._unflushed:
                self.set_timer(FRAME_SECONDS, self._flush)
            self._unflushed.add(reply)
        elif isinstance(event, ModelText):
            reply = self._current_reply()
            self._unflushed.discard(reply)
            reply.finish(event.text, event.thinking)
            self._reply = None
        elif isinstance(event, ToolStarted):
            self._reply = None
            self._card(event.call, self.clock())
        elif isinstance(event, ToolFinished):
            card = self._cards.get(event.call_id)
            if card is not None:
                card.finish(event)
            self._running_card = None
        else:
            self._show_other(event)

    def _show_other(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self.mount(Static(Content.assemble(("❯ ", "bold $text-accent"), event.task), classes="task"))
            self.say(f"working on branch {event.branch} · {event.engine} / {event.model}", "meta")
            if event.setup:
                self.say(f"setup: {event.setup}", "meta")
        elif isinstance(event, PlanSet):
            self._reply = None
            self.plan = PlanView(event.steps, classes="plan")
            self.mount(self.plan)
        elif isinstance(event, PlanProgress) and self.plan is not None:
            self.plan.tick(event.done)
        elif isinstance(event, StepStarted):
            self._reply = None
            self.say(f"step {event.step}", "step")
        elif isinstance(event, ModelError):
            self.say(f"model error ({event.category}): {event.message[:300]}", "model-error")
        elif isinstance(event, Notice):
            self.say(f"{event.level}: {event.message}", f"notice {event.level}")
        elif isinstance(event, UserGuidance):
            self.mount(
                Static(Content.assemble(("you ❯ ", "bold $text-accent"), event.text), classes="guidance")
            )
        elif isinstance(event, Interrupted):
            self._reply = None
            self.say(
                "⏸ interrupted: type guidance and press enter to go on (empty enter resumes), "
                "ctrl+c again ends the run",
                "interrupted",
            )
        elif isinstance(event, RunFinished):
            self._finished(event.report)

    def _finished(self, report: dict[str, object]) -> None:
        status = str(report.get("status", "?"))
        summary = str(report.get("summary") or "")
        files = report.get("files_changed") or []
        line = f"■ {status.replace('_', ' ')} ({report.get('stop_reason', '')})"
        if summary:
            line += f": {summary}"
        if isinstance(files, list) and files:
            line += f"\n  changed: {', '.join(str(f) for f in files)} · ctrl+t shows the diff"
        self.say(line, f"finished {status}")

    def _flush(self) -> None:
        for reply in self._unflushed:
            reply.flush()
        self._unflushed.clear()

    def _current_reply(self) -> ModelReply:
        if self._reply is None:
            self._reply = ModelReply()
            self.mount(self._reply)
        return self._reply

    def tick(self, now: float) -> None:
        """Once a second: the running tool card shows its elapsed time."""
        if self._running_card is not None:
            card, started = self._running_card
            card.running_for(now - started)

    def _card(self, call: ToolCall, now: float) -> ToolCard:
        card = ToolCard(call)
        self._running_card = (card, now)
        self._cards[call.id] = card
        self.mount(card)
        return card
