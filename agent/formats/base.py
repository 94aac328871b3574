"""The `ToolCallFormat` boundary: how one model family writes tool calls.

A format knows four things about its family's wire format:
- `render_call`: the text of one call exactly as the family's chat template renders it, so what
  the engine generates and what the template re-renders next turn are the same bytes (the KV
  cache stays reusable);
- `body_grammar`: a grammar (GBNF and Lark) for the text after `opener` up to the call's end,
  built from the tools' schemas, so a constrained call is always well formed;
- `parse_calls`: the calls (and the plain text around them) in a finished reply, repairing only
  unambiguous near-misses; a call that cannot be read carries a precise `parse_error`, and
  parsing never raises;
- `triggers`: the texts that mean a call is starting while the reply streams.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import prompts
from agent.formats.coerce import CoercionError, coerce_arguments
from agent.formats.jsonrepair import no_surrogates
from agent.formats.stream import REASONING_TAGS, THINK_CLOSE
from agent.grammar import Grammar
from agent.messages import ToolCall, ToolSpec


@dataclass
class ParsedReply:
    content: str  # the plain text outside the calls and the reasoning, stripped
    calls: list[ToolCall] = field(default_factory=list)
    thinking: str = ""


def schemas(tools: Sequence[ToolSpec]) -> dict[str, dict[str, Any]]:
    return {t.name: t.parameters for t in tools}


class ToolCallFormat(ABC):
    name: str = ""
    opener: str = ""  # starts one call in the canonical rendering
    triggers: tuple[str, ...] = ()  # texts in a streamed reply that mean a call starts

    def call_id(self, index: int) -> str:
        """The id of a message's `index`-th call (unique within the message)."""
        return f"call_{index}"

    @abstractmethod
    def render_call(self, call: ToolCall) -> str:
        """One call as the family's template renders it, from `opener` to the call's end."""

    def render_calls(self, calls: Sequence[ToolCall]) -> str:
        """Several calls of one message, for templates that carry calls as plain text."""
        return "\n".join(self.render_call(c) for c in calls)

    @abstractmethod
    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        """The grammar of what follows `opener`: one call to one of `tools` (or `only`), to its end."""

    @abstractmethod
    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        """The calls in `text` (reasoning already removed) and the plain text around them."""

    def parse(self, text: str, tools: Sequence[ToolSpec], thinking_open: bool = False) -> ParsedReply:
        """A whole reply: reasoning (`<think>...</think>`), plain text and calls."""
        thinking, rest = split_reasoning(text, thinking_open)
        reply = self.parse_calls(rest, tools)
        reply.thinking = thinking
        return reply

    def tools_block(self, tools: Sequence[ToolSpec]) -> str:
        """Tool instructions for templates that do not render tools themselves."""
        return prompts.render(
            "tools_block", example=self.render_call(_EXAMPLE), tools=[_tool_line(t) for t in tools]
        )

    def finish(self, call: ToolCall, tools: Sequence[ToolSpec]) -> ToolCall:
        """A parsed call with its arguments coerced to the tool's schema types, lone surrogates
        replaced (as `loads_lenient` does: text holding one cannot be encoded into a prompt)."""
        if call.parse_error:
            return call
        schema = schemas(tools).get(call.name)
        try:
            arguments = no_surrogates(coerce_arguments(call.arguments, schema))
        except CoercionError as exc:
            raw = json.dumps(call.arguments, ensure_ascii=False)
            return failed(call.id, call.name, raw, f"{exc}; send it as JSON of the right type")
        return call.model_copy(update={"arguments": arguments})


_EXAMPLE = ToolCall(id="example", name="TOOL_NAME", arguments={"ARGUMENT": "VALUE"})


def _tool_line(tool: ToolSpec) -> str:
    spec = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))


def split_reasoning(text: str, thinking_open: bool = False) -> tuple[str, str]:
    """(reasoning, the rest) of a reply; reasoning is inside `<think>...</think>` (or Mistral's
    `[THINK]...[/THINK]`). When the prompt opened it, a repeated opening tag is dropped."""
    stripped = text.lstrip()
    opener = next((o for o in REASONING_TAGS if stripped.startswith(o)), None)
    if opener is None and not thinking_open:
        return "", text
    closer = REASONING_TAGS[opener] if opener else THINK_CLOSE
    body = stripped[len(opener) :] if opener else text
    end = body.find(closer)
    if end == -1:
        return body.strip(), ""
    return body[:end].strip(), body[end + len(closer) :]


def tagged_segments(text: str, opener: str, closer: str) -> Iterator[tuple[str, str | None, str]]:
    """(text before, call body or None, how the body ended) pieces of a reply whose calls are tagged.

    A body ends "closed" (its closer), at the "end" of the output (a cut-off final call), or
    "interrupted" by the next opener before any closer (a call the model never closed).
    """
    rest = text
    while True:
        at = rest.find(opener)
        if at == -1:
            yield rest, None, "closed"
            return
        before, rest = rest[:at], rest[at + len(opener) :]
        end, following = rest.find(closer), rest.find(opener)
        if following != -1 and (end == -1 or following < end):
            yield before, rest[:following], "interrupted"
            rest = rest[following:]
            continue
        if end == -1:
            yield before, rest, "end"
            return
        yield before, rest[:end], "closed"
        rest = rest[end + len(closer) :]


INTERRUPTED = "it was not closed before the next call began"


def failed(call_id: str, name: str, raw: str, error: str) -> ToolCall:
    return ToolCall(id=call_id, name=name, raw_arguments=raw, parse_error=error)
