"""The engine boundary: the loop talks to an `Engine`, never to llama_cpp or httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.events import ChatDone, EngineEvent
from agent.messages import Message, ToolSpec

ToolChoice = Literal["auto", "required", "none"] | str  # a str other than these names one tool


class ChatOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int = 1024
    temperature: float = 0.0
    tool_choice: ToolChoice = "auto"
    stop: list[str] = []
    seed: int | None = 0
    # sampling's floor, relative to the likeliest token (llama.cpp's min_p); None: the engine's own
    min_p: float | None = None
    # time.monotonic() by which the reply must end: the engine stops prefilling or decoding then
    # and ends the reply with finish_reason "deadline" (a run ends within its time budget whatever
    # one turn costs). None: no deadline.
    deadline: float | None = None

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


class Engine(Protocol):
    """A chat model. `chat` streams events and always ends with one `ChatDone`."""

    @property
    def name(self) -> str: ...  # short backend name: "llama.cpp", "openai", "scripted"

    @property
    def model(self) -> str: ...  # the model it serves, for reports

    @property
    def context_length(self) -> int: ...

    @property
    def tool_format(self) -> str: ...  # the model's tool-call wire format (agent.formats), or "json"

    @property
    def samples(self) -> bool: ...  # another draw at a temperature can differ (a replay's cannot)

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]: ...

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        """Tokens the rendered prompt would take, counted with the engine's own tokenizer."""
        ...


class DeadlineReached(Exception):
    """`ChatOptions.deadline` passed while an engine prefilled or decoded: the reply ends there
    (engines turn it into finish_reason "deadline"; it never leaves `chat`)."""


class EngineError(Exception):
    """The engine failed (model not loadable, server unreachable...): the run cannot go on."""


def final(events: Iterator[EngineEvent]) -> ChatDone:
    """Drain a chat stream and return its closing `ChatDone`."""
    done: ChatDone | None = None
    for event in events:
        if isinstance(event, ChatDone):
            done = event
    if done is None:
        raise EngineError("engine stream ended without a final message")
    return done
