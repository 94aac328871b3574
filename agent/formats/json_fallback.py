"""The generic fallback: calls as bare JSON objects (`{"name": ..., "arguments": {...}}`), a JSON
list of them, or either inside a ```json fence. For models with no tool format of their own, and
for servers that return a call as plain content."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.formats.base import ParsedReply, ToolCallFormat
from agent.formats.json_calls import call_json, decode_calls, json_call_rules
from agent.grammar import GrammarBuilder
from agent.messages import ToolCall, ToolSpec

HEAD = '{"name": "'
_FENCE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_START = re.compile(r"""[\[]?\s*\{\s*["'](?:name|function)["']\s*:""")


class JSONFormat(ToolCallFormat):
    name = "json"
    opener = HEAD
    triggers = ('{"name":', "```json", '[{"name":')

    def render_call(self, call: ToolCall) -> str:
        return call_json(call)

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> str:
        builder = GrammarBuilder()
        return builder.render(json_call_rules(builder, tools, only, written=HEAD))

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        fence = _FENCE.search(text)
        if fence and _START.match(fence.group(1).lstrip()):
            content = (text[: fence.start()] + text[fence.end() :]).strip()
            calls, _after = decode_calls(fence.group(1), first_index, self.call_id)
            return ParsedReply(content=content, calls=[self.finish(c, tools) for c in calls])
        match = _START.search(text)
        if match is None:
            return ParsedReply(content=text.strip())
        calls, after = decode_calls(text[match.start() :], first_index, self.call_id)
        content = f"{text[: match.start()].strip()}\n{after}".strip()
        return ParsedReply(content=content, calls=[self.finish(c, tools) for c in calls])
