"""GBNF grammars for tool calls, built from the tools' JSON schemas.

The grammar produces exactly the canonical call text (`json.dumps` spacing, schema key order), so
what the model generates under it and what the chat template re-renders later are the same bytes:
the KV cache stays reusable across turns. Strings cannot hold raw control characters (newlines
must be escaped), so a call is always valid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

PRIMITIVES = {
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])',
    "string": r'"\"" char* "\""',
    "integer": r'"-"? ("0" | [1-9] [0-9]{0,8})',  # bounded: a weak model cannot run away
    "posint": r"[1-9] [0-9]{0,8}",
    "natural": r'"0" | [1-9] [0-9]{0,8}',
    "number": r'integer ("." [0-9]{1,8})? ([eE] [-+]? [0-9]{1,2})?',
    "boolean": r'"true" | "false"',
    "null": r'"null"',
    "value": r"object | array | string | number | boolean | null",
    "object": r'"{" (string ": " value (", " string ": " value)*)? "}"',
    "array": r'"[" (value (", " value)*)? "]"',
}


def literal(text: str) -> str:
    return json.dumps(text)  # a GBNF string literal uses the same escapes as JSON


def _class_char(char: str) -> str:
    """One character inside a GBNF character class `[...]`."""
    if char in "\\]^-[":
        return "\\" + char
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    return char


class GrammarBuilder:
    def __init__(self) -> None:
        self.rules: dict[str, str] = {}

    def rule(self, name: str, body: str) -> str:
        name = re.sub(r"[^a-zA-Z0-9-]", "-", name)
        self.rules[name] = body
        return name

    def value(self, schema: dict[str, Any], name: str) -> str:
        if "enum" in schema:
            return self.rule(
                name, " | ".join(literal(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
            )
        if "const" in schema:
            return self.rule(name, literal(json.dumps(schema["const"], ensure_ascii=False)))
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            alts = [self.value(option, f"{name}-{i}") for i, option in enumerate(options)]
            return self.rule(name, " | ".join(alts))
        kind = schema.get("type")
        if isinstance(kind, list):
            return self.value({"anyOf": [{**schema, "type": k} for k in kind]}, name)
        if kind == "object" and "properties" in schema:
            return self.object(schema, name)
        if kind == "array":
            item = self.value(schema.get("items", {}), f"{name}-item")
            return self.rule(name, f'"[" ({item} (", " {item})*)? "]"')
        if kind == "integer":
            minimum = schema.get("minimum")
            if minimum is None and "exclusiveMinimum" in schema:
                minimum = schema["exclusiveMinimum"] + 1
            if minimum is None or minimum < 0:
                return "integer"
            return "posint" if minimum >= 1 else "natural"
        if kind == "string" and "maxLength" in schema:  # bounded: a weak model cannot ramble on
            low, high = int(schema.get("minLength", 0)), int(schema["maxLength"])
            return self.rule(f"string-{low}-{high}", f'"\\"" char{{{low},{high}}} "\\""')
        return {"string": "string", "number": "number", "boolean": "boolean", "null": "null"}.get(
            str(kind), "value"
        )

    def object(self, schema: dict[str, Any], name: str) -> str:
        pairs = [
            (key, f"{literal(literal(key) + ': ')} {self.value(sub, f'{name}-{key}')}")
            for key, sub in schema.get("properties", {}).items()
        ]
        inner = self.fields(name, pairs, set(schema.get("required", [])), separator='", "')
        return self.rule(name, f'"{{" {inner} "}}"' if inner else '"{}"')

    def fields(self, name: str, pairs: list[tuple[str, str]], required: set[str], separator: str) -> str:
        """A rule for `pairs` in order, each optional unless required, joined by `separator`.

        `pairs` holds (key, grammar of the whole key-value item); returns "" when there are none.
        """

        def tail(i: int, first: bool) -> str:
            if i == len(pairs):
                return ""
            rule_name = f"{name}-t{i}{'f' if first else 'r'}"
            if rule_name in self.rules:
                return rule_name
            sep = "" if first or not separator else f"{separator} "
            rest = tail(i + 1, False)
            present = f"{sep}{pairs[i][1]} {rest}".strip()
            if pairs[i][0] in required:
                body = present
            else:
                skip = tail(i + 1, first) or '""'
                body = f"({present}) | {skip}"
            return self.rule(rule_name, body)

        return tail(0, True)

    def raw_until(self, terminator: str) -> str:
        """Free text up to and including the first `terminator` (which the text cannot contain).

        A right-recursive automaton over how much of the terminator the text's tail matches; it
        assumes the terminator's first character does not occur again in it (true of closing
        tags such as `</arg_value>`), so a mismatch restarts at state 0 or 1.
        """
        if not terminator or terminator[0] in terminator[1:]:
            raise ValueError(f"unsupported terminator {terminator!r}")
        base = "raw-" + re.sub(r"[^a-zA-Z0-9]", "", terminator)
        if f"{base}-0" in self.rules:
            return f"{base}-0"
        first = terminator[0]
        for k, char in enumerate(terminator):
            alternatives = [literal(terminator)]
            if k + 1 < len(terminator):
                alternatives.append(f"{literal(char)} {base}-{k + 1}")
            if k > 0:
                alternatives.append(f"{literal(first)} {base}-1")
            excluded = "".join(_class_char(c) for c in sorted({char, first}))
            alternatives.append(f"[^{excluded}] {base}-0")
            self.rules[f"{base}-{k}"] = " | ".join(alternatives)
        return f"{base}-0"

    def render(self, root: str) -> str:
        lines = [f"root ::= {root}"]
        lines += [f"{name} ::= {body}" for name, body in self.rules.items()]
        lines += [f"{name} ::= {body}" for name, body in PRIMITIVES.items() if name not in self.rules]
        return "\n".join(lines) + "\n"
