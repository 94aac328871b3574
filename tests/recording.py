"""The tests' one recording engine: it wraps a real engine (a scripted replay, a paced one...) and
keeps every request the loop sends it, so a test can check what the model read and how it was
asked to answer. A test double by composition, like httpx's MockTransport: nothing is patched."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agent.engines.base import ChatOptions, Engine
from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import EngineEvent
from agent.messages import Message, ToolSpec


@dataclass(frozen=True)
class Request:
    """One request as the engine got it: the conversation and the tool specs (with their grounded
    grammars) copied as they were then, and the sampling options."""

    messages: list[Message]
    tools: list[ToolSpec]
    options: ChatOptions


class RecordingEngine:
    """Wraps `inner` (a script's turns make a `ScriptedEngine`) and keeps every `Request`.

    `samples`: stand for an engine whose draws differ (True: the loop samples edits and runs the
    repair phase, each next scripted turn standing for another draw); None: as `inner` says.
    `interrupt_at`: the n-th request (1-based) raises KeyboardInterrupt, as the user's Ctrl-C.
    `seconds`: each reply takes this long first, as a model on a slow CPU does."""

    def __init__(
        self,
        inner: Engine | Sequence[ScriptedTurn],
        samples: bool | None = None,
        interrupt_at: int | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.inner: Engine = inner if not isinstance(inner, Sequence) else ScriptedEngine(inner)
        self._samples = samples
        self.interrupt_at = interrupt_at
        self.seconds = seconds
        self.requests: list[Request] = []

    name = property(lambda self: self.inner.name)
    model = property(lambda self: self.inner.model)
    context_length = property(lambda self: self.inner.context_length)
    tool_format = property(lambda self: self.inner.tool_format)

    @property
    def samples(self) -> bool:
        return self.inner.samples if self._samples is None else self._samples

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        return self.inner.count_tokens(messages, tools)

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        copied = [m.model_copy(deep=True) for m in messages]
        self.requests.append(Request(copied, [t.model_copy(deep=True) for t in tools], options))
        if len(self.requests) == self.interrupt_at:
            raise KeyboardInterrupt
        time.sleep(self.seconds)
        return self.inner.chat(messages, tools, options)

    # ---- what the requests held, request by request -------------------------------------------

    @property
    def conversations(self) -> list[list[Message]]:
        return [r.messages for r in self.requests]

    @property
    def specs(self) -> list[list[ToolSpec]]:
        return [r.tools for r in self.requests]

    @property
    def options(self) -> list[ChatOptions]:
        return [r.options for r in self.requests]

    @property
    def temperatures(self) -> list[float]:
        return [r.options.temperature for r in self.requests]

    @property
    def min_ps(self) -> list[float | None]:
        return [r.options.min_p for r in self.requests]
