"""The generic fallback: calls as bare JSON objects (`{"name": ..., "arguments": {...}}`), a JSON
list of them, or either inside a ```json fence. For models with no tool format of their own, and
for servers that return a call as plain content."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.formats.base import ParsedReply, ToolCallFormat
from agent.formats.json_calls import call_json, decode_calls, json_call_rules
from agent.grammar import Grammar, GrammarBuilder
from agent.messages import ToolCall, ToolSpec

HEAD = '{"name": "'
_FENCE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_START = re.compile(r"""[\[]?\s*\{\s*["'](?:name|function|tool_calls?)["']\s*:""")


class JSONFormat(ToolCallFormat):
    name = "json"
    opener = HEAD
    triggers = ('{"name":', "{'name':", "```json", "```\n{", '[{"name":', '{"tool_call')

    def render_call(self, call: ToolCall) -> str:
        return call_json(call)

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        return builder.render(json_call_rules(builder, tools, only, written=HEAD))

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        calls: list[ToolCall] = []
        plain: list[str] = []
        at = 0
        for fence in _FENCE.finditer(text):
            found, after = decode_calls(fence.group(1), first_index + len(calls), self.call_id, True)
            if found and not after:
                plain.append(text[at : fence.start()])
                calls.extend(found)
                at = fence.end()
        rest = text[at:]
        if not calls:
            for match in _START.finditer(rest):
                found, after = decode_calls(rest[match.start() :], first_index, self.call_id, True)
                if found:
                    plain.append(rest[: match.start()])
                    calls.extend(found)
                    rest = after
                    break
        plain.append(rest)
        content = "".join(plain).strip()
        return ParsedReply(content=content, calls=[self.finish(c, tools) for c in calls])
