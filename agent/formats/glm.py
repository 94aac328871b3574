"""GLM-4.5 / 4.6 / 4.7 / GLM-5: `<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>`.

GLM-4.5 and 4.6 put a newline after the name and after each tag pair; GLM-4.7 and GLM-5 (vLLM's
and SGLang's `glm47` parser) write it all on one line. String values are raw text, other values
JSON (the templates render `v if v is string else v | tojson`); parsed values are coerced to the
tool's schema types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from agent.formats.base import INTERRUPTED, ParsedReply, ToolCallFormat, failed, tagged_segments
from agent.formats.coerce import allowed_types
from agent.grammar import Grammar, GrammarBuilder, literal
from agent.messages import ToolCall, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"
KEY_OPEN, KEY_CLOSE = "<arg_key>", "</arg_key>"
VALUE_OPEN, VALUE_CLOSE = "<arg_value>", "</arg_value>"
_NEXT_PAIR = re.compile(r"<arg_key>[^<]*</arg_key>\s*<arg_value>")
_PAIR = re.compile(r"<arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)</arg_value>", re.DOTALL)


def value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class GLMFormat(ToolCallFormat):
    triggers = (OPEN,)
    opener = OPEN

    def __init__(self, newlines: bool) -> None:
        self.newlines = newlines  # GLM-4.5/4.6 layout
        self.name = "glm45" if newlines else "glm47"
        self._nl = "\n" if newlines else ""

    def render_call(self, call: ToolCall) -> str:
        nl = self._nl
        pairs = "".join(
            f"{KEY_OPEN}{k}{KEY_CLOSE}{nl}{VALUE_OPEN}{value_text(v)}{VALUE_CLOSE}{nl}"
            for k, v in call.arguments.items()
        )
        return f"{OPEN}{call.name}{nl}{pairs}{CLOSE}"

    def body_grammar(self, tools: Sequence[ToolSpec], only: str | None = None) -> Grammar:
        builder = GrammarBuilder()
        nl = literal(self._nl) if self._nl else ""
        alternatives = []
        for spec in tools:
            if only is not None and spec.name != only:
                continue
            pairs = []
            for key, sub in spec.parameters.get("properties", {}).items():
                if "string" in allowed_types(sub) or not allowed_types(sub):
                    value = builder.raw_until(VALUE_CLOSE)
                else:
                    value = f"{builder.value(sub, f'v-{spec.name}-{key}')} {literal(VALUE_CLOSE)}"
                item = f"{literal(KEY_OPEN + key + KEY_CLOSE)} {nl} {literal(VALUE_OPEN)} {value} {nl}"
                pairs.append((key, item))
            required = set(spec.parameters.get("required", []))
            end = literal(CLOSE)
            fields, may_be_empty = builder.fields(f"glm-{spec.name}", pairs, required, "", end)
            head = f"{literal(spec.name)} {nl}"
            body = f"{head} {fields}" if fields else f"{head} {end}"
            if fields and may_be_empty:
                body += f" | {head} {end}"
            alternatives.append(builder.rule(f"call-{spec.name}", body))
        if not alternatives:
            raise ValueError(f"no tool named {only!r}")
        return builder.render(" | ".join(alternatives))

    def parse_calls(self, text: str, tools: Sequence[ToolSpec], first_index: int = 0) -> ParsedReply:
        plain: list[str] = []
        calls: list[ToolCall] = []
        for before, body, ending in tagged_segments(text, OPEN, CLOSE):
            plain.append(before)
            if body is not None:
                call = self._call(body, ending, self.call_id(first_index + len(calls)))
                calls.append(self.finish(call, tools))
        return ParsedReply(content="".join(plain).strip(), calls=calls)

    def _call(self, body: str, ending: str, call_id: str) -> ToolCall:
        name = body.split("<", 1)[0].strip()
        if not name or any(c in name for c in "<>{}\n \"'"):
            return failed(call_id, "", body, f"the call must start with the tool name, then {KEY_OPEN}")
        rest = body[body.index(name) + len(name) :]
        strict = _strict_pairs(rest) if ending != "interrupted" else None
        pairs = strict if strict is not None else _PAIR.findall(rest)
        leftover = _PAIR.sub("", rest).strip() if strict is None else ""
        problem = ""
        if ending == "interrupted":
            problem = INTERRUPTED
        elif strict is not None:
            pass  # the call grammar's own layout: each value runs to its first closing tag
        elif leftover:
            cut = ending == "end" and (
                rest.count(KEY_OPEN) > len(pairs) or rest.count(VALUE_OPEN) > len(pairs)
            )
            problem = (
                "it was cut off in the middle of an argument" if cut else f"unexpected text {leftover[:60]!r}"
            )
        elif any(KEY_OPEN in value or VALUE_OPEN in value for _, value in pairs):
            problem = f"an {VALUE_OPEN} is not closed with {VALUE_CLOSE}"
        if problem:
            return failed(
                call_id,
                name,
                body,
                f"could not read the arguments of {name}: {problem}. Write each argument as "
                f"{KEY_OPEN}key{KEY_CLOSE}{VALUE_OPEN}value{VALUE_CLOSE}",
            )
        arguments: dict[str, object] = {}
        for key, value in pairs:
            if key.strip() in arguments:
                return failed(call_id, name, body, f"argument {key.strip()!r} is given twice")
            arguments[key.strip()] = value
        return ToolCall(id=call_id, name=name, arguments=arguments)


def _strict_pairs(rest: str) -> list[tuple[str, str]] | None:
    """`<arg_key>K</arg_key><arg_value>V</arg_value>` pairs read as the call grammar writes them
    (each value up to its first closing tag, so tag-like text inside a value is kept), else None."""
    pairs: list[tuple[str, str]] = []
    text = rest.lstrip("\n")
    while text.startswith(KEY_OPEN):
        key_end = text.find(KEY_CLOSE)
        if key_end == -1:
            return None
        key = text[len(KEY_OPEN) : key_end]
        text = text[key_end + len(KEY_CLOSE) :].lstrip("\n")
        if not text.startswith(VALUE_OPEN) or not key or key in {k for k, _ in pairs}:
            return None
        value_end = text.find(VALUE_CLOSE)
        if value_end == -1:
            return None
        value = text[len(VALUE_OPEN) : value_end]
        if _NEXT_PAIR.search(value):  # a whole next pair inside: this value was never closed
            return None
        pairs.append((key, value))
        text = text[value_end + len(VALUE_CLOSE) :].lstrip("\n")
    return pairs if not text.strip() and pairs else None
