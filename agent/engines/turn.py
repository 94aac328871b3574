"""The bookkeeping of one embedded-engine turn: decoding passes, budgets, the call policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.engines.base import EngineError
from agent.engines.speculative import DraftCounts
from agent.events import Usage
from agent.messages import Message, ToolCall, ToolSpec

ThinkingEffort = Literal["off", "high", "max"]
# Reasoning tokens a turn may spend before its reasoning is closed for it (None: no own limit).
THINKING_BUDGET: dict[ThinkingEffort | None, int | None] = {None: 2048, "off": 0, "high": 2048, "max": None}


def thinking_variables(effort: ThinkingEffort | None) -> dict[str, Any]:
    """Chat-template variables for an effort preset (None: the template's own default).

    `clear_thinking=False` keeps earlier turns' reasoning in the prompt (GLM-4.7/5 templates drop
    it otherwise once a new user message arrives, which would break the prompt's prefix reuse).
    """
    variables: dict[str, Any] = {"clear_thinking": False}
    if effort is not None:
        variables["enable_thinking"] = effort != "off"
    return variables


@dataclass
class Pass:
    """One decoding request: the tokens it produced, their text, and why it stopped."""

    ids: list[int] = field(default_factory=list)
    text: str = ""
    stop: str = "length"  # "eos" | "length" | "call" | "stop" | "thought" | "thinking_budget"
    prefilled: int = 0
    cached: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    drafts: DraftCounts = field(default_factory=DraftCounts)


@dataclass
class Turn:
    messages: Sequence[Message]
    tools: Sequence[ToolSpec]
    prompt_text: str
    prompt: list[int]
    budget: int  # tokens for the visible reply (text and calls)
    thinking_open: bool = False  # the generation prompt opened the reasoning
    room: int = 1 << 30  # what the context window has left after the prompt
    thinking_allowance: int = 0  # reasoning tokens allowed on top of `budget`
    thinking_tokens: int = 0  # reasoning tokens generated so far
    passes: list[Pass] = field(default_factory=list)
    thinking: str = ""
    content: str = ""  # the free text before the first call
    calls: list[ToolCall] = field(default_factory=list)

    def new_pass(self) -> Pass:
        self.passes.append(Pass())
        return self.passes[-1]

    def remaining(self) -> int:
        """Tokens the turn may still generate: reasoning is paid from its own allowance, as far
        as the model really reasons (a model that does not think gets no extra room for a call
        that runs on)."""
        used = sum(len(p.ids) for p in self.passes)
        limit = min(self.room, self.budget + min(self.thinking_tokens, self.thinking_allowance))
        return limit - used

    def most(self) -> int:
        """The most a pass that may reason can still generate (its own checks stop it sooner)."""
        used = sum(len(p.ids) for p in self.passes)
        return min(self.room, self.budget + self.thinking_allowance) - used

    def message(self, extra_content: str = "", extra_calls: Sequence[ToolCall] = ()) -> Message:
        return Message(
            role="assistant",
            content=self.content + extra_content,
            thinking=self.thinking,
            tool_calls=[*self.calls, *extra_calls],
        )

    def usage(self) -> Usage:
        passes = self.passes
        return Usage(
            prompt_tokens=len(self.prompt),
            prefilled_tokens=sum(p.prefilled for p in passes),
            cached_tokens=passes[0].cached if passes else 0,
            generated_tokens=sum(len(p.ids) for p in passes),
            prefill_seconds=round(sum(p.prefill_seconds for p in passes), 4),
            decode_seconds=round(sum(p.decode_seconds for p in passes), 4),
            drafted_tokens=sum(p.drafts.drafted for p in passes),
            accepted_tokens=sum(p.drafts.accepted for p in passes),
        )


@dataclass(frozen=True)
class CallPolicy:
    allowed: bool  # calls may be made at all
    forced: bool  # a call must be made ("required" or a tool name)
    only: str | None  # the one tool allowed

    @classmethod
    def of(cls, tools: Sequence[ToolSpec], choice: str) -> CallPolicy:
        if not tools or choice == "none":
            return cls(False, False, None)
        if choice in ("auto", "required"):
            return cls(True, choice == "required", None)
        if choice not in {t.name for t in tools}:
            raise EngineError(f"tool_choice names {choice!r}, which is not one of the tools offered")
        return cls(True, True, choice)
