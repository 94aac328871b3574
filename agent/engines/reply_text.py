"""What the embedded engine reads in a free pass's text as it streams, and the events it makes of it."""

from __future__ import annotations

from collections.abc import Iterator

from agent.events import EngineEvent, TextDelta, ThinkingDelta
from agent.formats.stream import THINK_OPEN


def said_a_line(text: str) -> bool:
    """The text holds a finished line that says something (a heading, `### Plan`, does not)."""
    *done, _ = text.split("\n")  # the last piece is not finished yet
    return any(len(line.strip()) >= 24 and any(m in line for m in ".:?!") for line in done)


def opens_thinking(prompt_text: str) -> bool:
    """The generation prompt ends inside an opened `<think>` (GLM-4.7/5, Qwen3 thinking)."""
    tail = prompt_text.rstrip()
    return tail.endswith(THINK_OPEN)


def deltas(pieces: list[tuple[str, str]]) -> Iterator[EngineEvent]:
    for kind, piece in pieces:
        yield ThinkingDelta(text=piece) if kind == "thinking" else TextDelta(text=piece)
