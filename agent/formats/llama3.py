"""Llama 3.1+ JSON tool calls: `{"name": ..., "parameters": {...}}`, sometimes after `<|python_tag|>`.

The template renders one call per assistant message as the whole message; several calls in one
reply come as objects separated by `;` or newlines. `"arguments"` is accepted for `"parameters"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.formats.base import ParsedReply, ToolCallFormat, failed
from agent.formats.json_calls import call_json, decode_calls, json_call_rules
from agent.grammar import Grammar, GrammarBuilder
from agent.messages import ToolCall, ToolSpec

PYTHON_TAG = "<|python_tag|>"
HEAD = '{"name": "'
_START = re.compile(r"""\{\s*["'](?:name|type|tool_calls?)["']\s*:""")
_BUILTIN = re.compile(r"^\s*([A-Za-z_][\w.-]*)\.call\(")


class Llama3Format(ToolCallFormat):
    name = "llama3"
    opener = HEAD
    triggers = (PYTHON_TAG, '{"name":', '{"type": "function"')

    def render_call(self, call: ToolCall) -> str:
        return call_json(call, "parameters")

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        return builder.render(json_call_rules(builder, tools, only, "parameters", written=HEAD))

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        before, tagged, after_tag = text.partition(PYTHON_TAG)
        if tagged and (builtin := _BUILTIN.match(after_tag)):
            error = (
                f"{builtin.group(1)} is not a built-in tool: call it with JSON, "
                '{"name": "...", "parameters": {...}}'
            )
            return ParsedReply(
                content=before.strip(),
                calls=[failed(self.call_id(first_index), builtin.group(1), after_tag, error)],
            )
        body = text.replace(PYTHON_TAG, "\n")
        for match in _START.finditer(body):
            calls, after = decode_calls(body[match.start() :], first_index, self.call_id, need_arguments=True)
            if calls:
                content = (body[: match.start()] + after).strip()
                return ParsedReply(content=content, calls=[self.finish(c, tools) for c in calls])
        return ParsedReply(content=text.strip())
