"""Hermes / Qwen2.5 / Qwen3: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`.

Small models often drop the tags and write the bare JSON object (or a ```json block): those count
as call triggers too, and the engine regenerates the call in the canonical tagged form.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.formats.base import ParsedReply, ToolCallFormat, tagged_segments
from agent.formats.json_calls import call_from_text, call_json, interrupted, json_call_rules
from agent.grammar import Grammar, GrammarBuilder
from agent.messages import ToolCall, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"


class HermesFormat(ToolCallFormat):
    name = "hermes"
    opener = OPEN
    triggers = (OPEN, '{"name":', "```json")

    def render_call(self, call: ToolCall) -> str:
        return f"{OPEN}\n{call_json(call)}\n{CLOSE}"

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        calls = json_call_rules(builder, tools, only)
        return builder.render(f'"\\n" ({calls}) "\\n{CLOSE}"')

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        plain: list[str] = []
        calls: list[ToolCall] = []
        for before, body, ending in tagged_segments(text, OPEN, CLOSE):
            plain.append(before)
            if body is None:
                continue
            call_id = self.call_id(first_index + len(calls))
            call = interrupted(call_id, body) if ending == "interrupted" else call_from_text(body, call_id)
            calls.append(self.finish(call, tools))
        return ParsedReply(content="".join(plain).strip(), calls=calls)
