"""`PacedEngine`: any engine's text re-streamed piece by piece at a set rate.

A scripted reply arrives as one block; wrapped in a `PacedEngine` it streams word by word like a
local model on a CPU. Used for demos, the TUI's tests (interrupting a reply mid-stream) and the
TUI benchmark (a steady token stream to measure the UI's latency under).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence

from agent.engines.base import ChatOptions, Engine
from agent.events import EngineEvent, TextDelta, ThinkingDelta
from agent.messages import Message, ToolSpec

_PIECE = re.compile(r"\s*\S+|\s+")  # a word with the space before it: about one token


def pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


class PacedEngine:
    """Wraps `inner`; text and thinking deltas are split into words sent `tokens_per_second` apart."""

    def __init__(
        self,
        inner: Engine,
        tokens_per_second: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def context_length(self) -> int:
        return self.inner.context_length

    @property
    def tool_format(self) -> str:
        return self.inner.tool_format

    @property
    def samples(self) -> bool:
        return self.inner.samples

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        return self.inner.count_tokens(messages, tools)

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        for event in self.inner.chat(messages, tools, options):
            if isinstance(event, TextDelta | ThinkingDelta):
                for piece in pieces(event.text):
                    self._sleep(self.interval)
                    yield event.model_copy(update={"text": piece})
            else:
                yield event
