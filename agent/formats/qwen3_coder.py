"""Qwen3-Coder: `<tool_call>\n<function=NAME>\n<parameter=K>\nV\n</parameter>\n</function>\n</tool_call>`.

The template renders strings as they are, lists and objects as JSON, and other values with
Jinja's `string` filter (Python's `str`: `True`, `None`, `12`); parsed values are coerced to the
tool's schema types. Models sometimes drop the outer `<tool_call>`: `<function=` triggers too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agent.formats.base import INTERRUPTED, ParsedReply, ToolCallFormat, failed, tagged_segments
from agent.formats.coerce import allowed_types
from agent.formats.json_calls import call_from_text
from agent.grammar import Grammar, GrammarBuilder, literal
from agent.messages import ToolCall, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"
FUNCTION_END = "</function>"
PARAMETER_END = "\n</parameter>"
_FUNCTION = re.compile(r"^\s*<function=([^>\n]*)>(.*?)(</function>\s*)?$", re.DOTALL)
# A parameter ends at </parameter>, or (the last one, when that tag was left out) at </function>.
_PARAMETER = re.compile(r"<parameter=([^>\n]*)>\n?(.*?)\n?(?:</parameter>|(?=</function>))", re.DOTALL)


def _function_name(body: str) -> str:
    match = re.search(r"<function=([^>\n]*)>", body)
    return match.group(1).strip() if match else ""


def value_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)  # Jinja's `string` filter: Python's str()


class Qwen3CoderFormat(ToolCallFormat):
    name = "qwen3_coder"
    opener = OPEN
    triggers = (OPEN, "<function=")

    def render_call(self, call: ToolCall) -> str:
        params = "".join(
            f"<parameter={k}>\n{value_text(v)}\n</parameter>\n" for k, v in call.arguments.items()
        )
        return f"{OPEN}\n<function={call.name}>\n{params}{FUNCTION_END}\n{CLOSE}"

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        alternatives = []
        for spec in tools:
            if only is not None and spec.name != only:
                continue
            pairs = [
                (
                    key,
                    f"{literal(f'<parameter={key}>' + chr(10))} {self._value(builder, spec.name, key, sub)}",
                )
                for key, sub in spec.parameters.get("properties", {}).items()
            ]
            required = set(spec.parameters.get("required", []))
            head, end = literal(f"\n<function={spec.name}>\n"), literal(FUNCTION_END + chr(10) + CLOSE)
            fields, may_be_empty = builder.fields(f"q3c-{spec.name}", pairs, required, "", end)
            body = f"{head} {fields}" if fields else f"{head} {end}"
            if fields and may_be_empty:
                body += f" | {head} {end}"
            alternatives.append(builder.rule(f"call-{spec.name}", body))
        if not alternatives:
            raise ValueError(f"no tool named {only!r}")
        return builder.render(" | ".join(alternatives))

    @staticmethod
    def _value(builder: GrammarBuilder, tool: str, key: str, schema: dict[str, Any]) -> str:
        """A parameter's value through its closing tag and newline."""
        end = literal("\n")
        kinds = allowed_types(schema)
        if not kinds or "string" in kinds:
            return f"{builder.raw_until(PARAMETER_END)} {end}"
        if kinds <= {"boolean"}:
            return f'("True" | "False") {literal(PARAMETER_END)} {end}'
        value = builder.value(schema, f"v-{tool}-{key}")
        return f"{value} {literal(PARAMETER_END)} {end}"

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        if OPEN not in text and "<function=" in text:  # the outer tag dropped
            at = text.index("<function=")
            text = text[:at] + OPEN + text[at:].replace(FUNCTION_END, FUNCTION_END + CLOSE, 1)
        plain: list[str] = []
        calls: list[ToolCall] = []
        for before, body, ending in tagged_segments(text, OPEN, CLOSE):
            plain.append(before)
            if body is None:
                continue
            call_id = self.call_id(first_index + len(calls))
            if ending == "interrupted":
                call = failed(call_id, _function_name(body), body, f"the tool call is broken: {INTERRUPTED}")
            elif body.strip().startswith("{"):  # a Hermes JSON body inside the tags
                call = call_from_text(body, call_id)
            else:
                call = self._call(body, ending, call_id)
            calls.append(self.finish(call, tools))
        return ParsedReply(content="".join(plain).strip(), calls=calls)

    def _call(self, body: str, ending: str, call_id: str) -> ToolCall:
        match = _FUNCTION.match(body.strip("\n"))
        if match is None:
            return failed(
                call_id, "", body, "a call must be <function=NAME> ... </function> inside <tool_call>"
            )
        name, inner = match.group(1).strip(), match.group(2) + (match.group(3) or "")
        if not name:
            return failed(call_id, "", body, "the <function=...> tag names no tool")
        params = _PARAMETER.findall(inner)
        leftover = _PARAMETER.sub("", inner).replace(FUNCTION_END, "").strip()
        if leftover:
            cut = ending == "end" and "<parameter=" in leftover and "</parameter>" not in leftover
            what = "it was cut off inside a parameter" if cut else f"unexpected text {leftover[:60]!r}"
            return failed(
                call_id,
                name,
                body,
                f"could not read the parameters of {name}: {what}. Write each as "
                "<parameter=NAME>\nvalue\n</parameter>",
            )
        arguments: dict[str, object] = {}
        for key, value in params:
            if key.strip() in arguments:
                return failed(call_id, name, body, f"parameter {key.strip()!r} is given twice")
            arguments[key.strip()] = value
        return ToolCall(id=call_id, name=name, arguments=arguments)
