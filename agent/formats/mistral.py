"""Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}]` (v3 tokenizers) or
`[TOOL_CALLS]NAME[ARGS]{...}` (v11+, Mistral Small 3.2 / Devstral / Magistral; an optional
`[CALL_ID]id` before `[ARGS]`). Both are parsed whichever the template uses; tool call ids are the
9 alphanumeric characters the templates insist on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from agent.formats.base import ParsedReply, ToolCallFormat, failed
from agent.formats.json_calls import call_from_object, decode_calls, json_call_rules
from agent.formats.jsonrepair import JSONRepairError, loads_lenient, raw_decode
from agent.grammar import Grammar, GrammarBuilder, literal
from agent.messages import ToolCall, ToolSpec

TOOL_CALLS, ARGS, CALL_ID = "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"
# v11+: NAME, an optional [CALL_ID]id, [ARGS] (vLLM decodes it away: NAME{...}), the JSON arguments.
_NAMED = re.compile(
    r"^\s*([A-Za-z0-9_.:-]+)\s*(?:\[CALL_ID\]\s*[A-Za-z0-9]*\s*)?(?:\[ARGS\])?\s*(\{.*)$", re.DOTALL
)


class MistralFormat(ToolCallFormat):
    opener = TOOL_CALLS
    triggers = (TOOL_CALLS,)

    def __init__(self, named: bool) -> None:
        self.named = named  # the v11+ `NAME[ARGS]{...}` layout
        self.name = "mistral" if not named else "mistral_v11"

    def call_id(self, index: int) -> str:
        return f"call{index:05d}"

    def render_call(self, call: ToolCall) -> str:
        if self.named:
            return f"{TOOL_CALLS}{call.name}{ARGS}{json.dumps(call.arguments, ensure_ascii=False)}"
        item = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
        return f"{TOOL_CALLS}[{item}]"

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        if not self.named:
            return builder.render(f'"[" ({json_call_rules(builder, tools, only)}) "]"')
        alternatives = []
        for spec in tools:
            if only is None or spec.name == only:
                args = builder.value({**spec.grammar_schema, "type": "object"}, f"args-{spec.name}")
                alternatives.append(builder.rule(f"call-{spec.name}", f"{literal(spec.name + ARGS)} {args}"))
        if not alternatives:
            raise ValueError(f"no tool named {only!r}")
        return builder.render(" | ".join(alternatives))

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        content, found, rest = text.partition(TOOL_CALLS)
        if not found:
            return ParsedReply(content=text.strip())
        calls: list[ToolCall] = []
        plain = [content]
        for chunk in rest.split(TOOL_CALLS):
            found_calls, after = self._chunk(chunk, first_index + len(calls))
            calls.extend(found_calls)
            plain.append(after)
        return ParsedReply(content="".join(plain).strip(), calls=[self.finish(c, tools) for c in calls])

    def _chunk(self, chunk: str, index: int) -> tuple[list[ToolCall], str]:
        """The calls in the text after one [TOOL_CALLS], and the text after them."""
        if not chunk.strip():
            return [failed(self.call_id(index), "", chunk, f"nothing followed {TOOL_CALLS}")], ""
        if chunk.lstrip().startswith(("[", "{")):
            return decode_calls(chunk, index, self.call_id)
        named = _NAMED.match(chunk)
        if named is None:
            name = chunk.split(ARGS, 1)[0].strip() if ARGS in chunk else ""
            error = f"expected a JSON list or NAME{ARGS}{{...}} with the arguments as a JSON object"
            return [failed(self.call_id(index), name, chunk, error)], ""
        name, args = named.group(1), named.group(2)
        try:
            arguments, end = raw_decode(args)
        except (json.JSONDecodeError, JSONRepairError):
            try:
                arguments, end = loads_lenient(args), len(args)
            except JSONRepairError as exc:
                error = f"the arguments are not valid JSON: {exc}"
                return [failed(self.call_id(index), name, args, error)], ""
        call = call_from_object({"name": name, "arguments": arguments}, args, self.call_id(index))
        return [call], args[end:]
