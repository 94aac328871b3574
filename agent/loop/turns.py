"""The model's turns, and the user's hand in them.

A turn streams the reply to whoever watches and counts its usage. An optional `Steering`
(agent/steering.py) lets a person steer the run from another thread: an interrupt cuts the turn
short at the next token and pauses the run until their guidance comes (the paused time does not
count against the time budget); guidance sent while it runs goes to the model before its next step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import prompts
from agent.engines.base import ChatOptions, Engine
from agent.events import (
    ChatDone,
    EngineEvent,
    Interrupted,
    ModelDelta,
    ModelText,
    PrefillProgress,
    TextDelta,
    ThinkingDelta,
    TurnUsage,
    Usage,
    UserGuidance,
)
from agent.loop.errors import LimitsExceeded, StoppedByUser, StopRun
from agent.loop.state import Run
from agent.messages import Message, ToolSpec
from agent.steering import Steering

# a reply may run this share of the time budget past it (the run then verifies and reports)
DEADLINE_GRACE = 0.03


class Turns:
    """The model's turns in one run, and its pauses for the user's guidance."""

    def __init__(self, run: Run, engine: Engine, steering: Steering | None) -> None:
        self.run = run
        self.engine = engine
        self.steering = steering

    def converse(self, messages: list[Message], specs: list[ToolSpec], options: ChatOptions) -> ChatDone:
        """One model turn on `messages`: its text shown as it streams, its usage counted."""
        done: ChatDone | None = None
        if options.deadline is None:  # the run's own: its time budget, and a little for the report
            grace = DEADLINE_GRACE * self.run.budgets.max_seconds
            options = options.model_copy(update={"deadline": time.monotonic() + self.run.time_left() + grace})
        stream = self.engine.chat(messages, specs, options)
        shown: list[str] = []
        for event in stream:
            if self.steering is not None and self.steering.interrupted:
                done = _cut_short(stream, shown)
                break
            if isinstance(event, TextDelta):
                shown.append(event.text)
                self.run.emit(ModelDelta(text=event.text))
            elif isinstance(event, ThinkingDelta):
                self.run.emit(ModelDelta(text=event.text, thinking=True))
            elif isinstance(event, PrefillProgress):
                self.run.emit(event)
            elif isinstance(event, ChatDone):
                done = event
        if done is None:
            raise StopRun("engine_error", "the engine ended a reply without a final message")
        state = self.run.state
        state.usage = state.usage.add(done.usage)
        self.run.emit(ModelText(text=done.message.content, thinking=done.message.thinking))
        if done.finish_reason != "interrupted":  # a stream cut short reports no usage
            self.run.emit(
                TurnUsage(
                    step=state.steps,
                    usage=done.usage,
                    context_budget=self.engine.context_length,
                    context_tokens=done.usage.prompt_tokens + done.usage.generated_tokens,
                )
            )
        if done.finish_reason == "deadline":
            budget = self.run.budgets.max_seconds
            raise LimitsExceeded("max_time", f"time budget of {budget:.0f}s used up in the middle of a reply")
        return done

    def steer(self) -> None:
        """Between steps: pause if the user interrupted, then hand the model what they wrote."""
        if self.steering is None:
            return
        if self.steering.interrupted:
            self.pause("")
        for text in self.steering.drain():
            self._add_guidance(text)

    def pause(self, partial: str) -> None:
        """Wait for the user's guidance (`partial`: the text of the turn they cut short)."""
        if self.steering is None:
            return
        self.run.emit(Interrupted(step=self.run.state.steps, partial_text=partial))
        paused = time.monotonic()
        text = self.steering.wait_for_guidance()
        self.run.started += time.monotonic() - paused
        if text is None:
            raise StoppedByUser()
        self._add_guidance(text)

    def _add_guidance(self, text: str) -> None:
        if text.strip():
            self.run.state.messages.append(Message.user(prompts.render("guidance", text=text.strip())))
            self.run.emit(UserGuidance(text=text.strip()))


def _cut_short(stream: Iterator[EngineEvent], shown: list[str]) -> ChatDone:
    """Close the engine's stream (its generator stops decoding) and keep the text shown so far."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()
    message = Message(role="assistant", content="".join(shown).strip())
    return ChatDone(message=message, usage=Usage(), finish_reason="interrupted")
