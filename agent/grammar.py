"""Grammars for tool calls, built from the tools' JSON schemas, in two syntaxes: GBNF for
llama.cpp's own sampler and Lark for llguidance (the fast path).

A grammar produces exactly the canonical call text (`json.dumps` spacing, schema key order), so
what the model generates under it and what the chat template re-renders later are the same bytes:
the KV cache stays reusable across turns. JSON strings cannot hold raw control characters
(newlines must be escaped), so a JSON call is always valid JSON. Raw text values (GLM,
Qwen3-Coder) run up to their closing tag: a right-recursive automaton in GBNF, one lazy regex
lexeme in Lark.

A string schema may carry `x-lines-of` (a file's text, set by tools/grounding.py): the value is
then consecutive whole lines of that text, or one line without its indentation (Lark only:
llguidance's substring lexeme over the lines' JSON-escaped chunks; GBNF takes any string). A list
of texts (the blocks of a file between lines closed to edits) takes lines of any one of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PRIMITIVES = {
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])',
    "string": r'"\"" char* "\""',
    "integer": r'"-"? ("0" | [1-9] [0-9]{0,8})',  # bounded: a weak model cannot run away
    "posint": r"[1-9] [0-9]{0,8}",
    "natural": r'"0" | [1-9] [0-9]{0,8}',
    "number": r'integer ("." [0-9]{1,8})? ([eE] [-+]? [0-9]{1,2})?',
    "nonneg": r'natural ("." [0-9]{1,8})?',  # minimum 0
    "posnumber": r'posint ("." [0-9]{1,8})? | "0." [0-9]{0,7} [1-9]',  # exclusiveMinimum 0
    "boolean": r'"true" | "false"',
    "null": r'"null"',
    "value": r"object | array | string | number | boolean | null",
    "object": r'"{" (string ": " value (", " string ": " value)*)? "}"',
    "array": r'"[" (value (", " value)*)? "]"',
}


# Rules that become single lexemes (regexes) for llguidance; bounded strings ("string-M-N") too.
TERMINALS = frozenset(
    {"char", "string", "integer", "posint", "natural", "number", "nonneg", "posnumber", "boolean", "null"}
)
_GBNF_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]|[A-Za-z0-9-]+|\{\d*,?\d*\}|[()|?*+])')
_REGEX_META = set(".^$*+?()[]{}|\\/")


@dataclass(frozen=True)
class Grammar:
    gbnf: str  # llama.cpp's GBNF
    lark: str  # llguidance's Lark dialect


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


def _rule_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", name)


def _is_terminal(name: str) -> bool:
    return name in TERMINALS or name.startswith("string-")


def _lark_name(name: str) -> str:
    lark = name.replace("-", "_")
    return lark.upper() if _is_terminal(name) else lark.lower()


def _lark_body(body: str) -> str:
    """A GBNF rule body (as this module writes them) in llguidance's Lark syntax."""
    out = []
    for token in _GBNF_TOKEN.findall(body):
        if token.startswith('"'):
            out.append(json.dumps(json.loads(token), ensure_ascii=False))
        elif token.startswith("["):
            out.append("/" + token.replace("/", "\\/") + "/")
        elif re.fullmatch(r"[A-Za-z0-9-]+", token):
            out.append(_lark_name(token))
        else:
            out.append(token)
    return " ".join(out)


def _regex_text(text: str) -> str:
    """`text` matched literally by a Lark `/.../` regex."""
    return "".join("\\n" if c == "\n" else "\\" + c if c in _REGEX_META else c for c in text)


LINES_OF = "x-lines-of"


# a JSON escape sequence, or a run of text without one
_PIECE = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|[^\\]+", re.DOTALL)


def line_chunks(text: str) -> list[str]:
    """`text` in JSON-escaped pieces a quoted substring of it may start or end on: each line's
    indentation, its content cut around each escape sequence (kept whole), and its newline.

    Inside a piece llguidance forces the rest of it, and a forced run is allowed only as
    llguidance tokenizes it on its own, which is not always how the model does in context: with
    whole lines, the model's `\\"]` in `env[\\"DEBUG\\"])` was refused, and the 1.5B model, pushed
    through other tokens, went on to write garbled code. Cut at the escapes, 1 line in 1,000 of
    this repository is still tokenized differently (an added token's text, a run of backslashes);
    cut at every word, the grammar of a large repository takes 2.8 s to compile instead of 0.5 s.
    """
    chunks: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        content = body.lstrip(" \t")
        if indent := body[: len(body) - len(content)]:
            chunks.append(json.dumps(indent)[1:-1])
        if content:
            chunks += _PIECE.findall(json.dumps(content, ensure_ascii=False)[1:-1])
        if line != body:
            chunks.append("\\n")
    return chunks


class GrammarBuilder:
    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self.substrings: dict[str, list[str]] = {}  # Lark terminal -> chunks (see `lines_of`)
        self._lark_rules: dict[str, str] = {}  # rules whose Lark body is not their GBNF one
        self.raw: dict[str, str] = {}  # raw_until rule name -> its terminator
        self._raw_states: dict[str, str] = {}  # the automaton behind each (GBNF only)

    def rule(self, name: str, body: str) -> str:
        name = _rule_name(name)
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
        if kind == "number" and schema.get("exclusiveMinimum") == 0:  # `gt=0`: a timeout
            return "posnumber"
        if kind == "number" and schema.get("minimum") == 0:
            return "nonneg"
        if kind == "string" and isinstance(schema.get(LINES_OF), str | list):
            return self.lines_of(schema[LINES_OF], name)
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
        required = set(schema.get("required", []))
        inner, may_be_empty = self.fields(name, pairs, required, separator=", ", end='"}"')
        if not inner:
            return self.rule(name, '"{}"')
        return self.rule(name, f'"{{" {inner}' + (' | "{}"' if may_be_empty else ""))

    def fields(
        self, name: str, pairs: list[tuple[str, str]], required: set[str], separator: str, end: str
    ) -> tuple[str, bool]:
        """A rule for a non-empty run of `pairs` in order (each optional unless required, joined by
        `separator`) followed by `end`, and whether the run may also be empty ("" when there are
        no pairs; the caller then writes `end` itself).

        Two properties keep llguidance (which lexes greedily, without backtracking, and turns
        rules made only of literals into single lexemes) on track: no rule matches the empty
        string, and `end` sits inside every rule, so no lexeme can stop short of it.
        """
        n = len(pairs)
        if n == 0:
            return "", True
        required_from = [any(key in required for key, _ in pairs[i:]) for i in range(n + 1)]

        def run(i: int, first: bool) -> str:  # a non-empty run of the pairs from i on, then `end`
            rule_name = _rule_name(f"{name}-t{i}{'f' if first else 'r'}")
            if rule_name in self.rules:
                return rule_name
            item = pairs[i][1] if first or not separator else f"{literal(separator)} {pairs[i][1]}"
            alternatives = []
            if i + 1 < n:
                alternatives.append(f"{item} {run(i + 1, False)}")
            if not required_from[i + 1]:
                alternatives.append(f"{item} {end}")  # pair i is the last one given
            if pairs[i][0] not in required and i + 1 < n:
                alternatives.append(run(i + 1, first))  # pair i left out
            return self.rule(rule_name, " | ".join(f"({a})" for a in alternatives))

        return run(0, True), not required_from[0]

    def lines_of(self, text: str | list[str], name: str) -> str:
        """A JSON string holding consecutive pieces of `text` (`line_chunks`), or of one of its
        blocks when it is a list: in Lark one substring lexeme per block; GBNF has no such thing
        and takes any string."""
        name = self.rule(name, "string")
        terminals = []
        for block in [text] if isinstance(text, str) else text:
            terminal = f"LINES_{len(self.substrings)}"
            self.substrings[terminal] = line_chunks(block)
            terminals.append(terminal)
        self._lark_rules[name] = f'"\\"" ({" | ".join(terminals)}) "\\""'
        return name

    def raw_until(self, terminator: str) -> str:
        """Free text up to and including the first `terminator` (which the text cannot contain).

        A right-recursive automaton over how much of the terminator the text's tail matches, one
        character per step, with disjoint choices at every step (so a lexer that never backtracks
        cannot take a wrong turn). It assumes the terminator's first character does not occur
        again in it (true of closing tags such as `</arg_value>`), so a mismatch restarts at
        state 0 or 1.
        """
        if not terminator or terminator[0] in terminator[1:]:
            raise ValueError(f"unsupported terminator {terminator!r}")
        base = "raw-" + re.sub(r"[^a-zA-Z0-9]", "", terminator)
        if f"{base}-0" in self.raw:
            return f"{base}-0"
        self.raw[f"{base}-0"] = terminator
        first, last = terminator[0], len(terminator) - 1
        for k, char in enumerate(terminator):
            advance = literal(char) if k == last else f"{literal(char)} {base}-{k + 1}"
            alternatives = [advance]
            if k > 0:
                alternatives.append(f"{literal(first)} {base}-1")
            excluded = "".join(_class_char(c) for c in sorted({char, first}))
            alternatives.append(f"[^{excluded}] {base}-0")
            self._raw_states[f"{base}-{k}"] = " | ".join(alternatives)
        return f"{base}-0"

    def render(self, root: str) -> Grammar:
        return Grammar(gbnf=self._gbnf(root), lark=self._lark(root))

    def _gbnf(self, root: str) -> str:
        lines = [f"root ::= {root}"]
        lines += [f"{name} ::= {body}" for name, body in {**self.rules, **self._raw_states}.items()]
        lines += [f"{name} ::= {body}" for name, body in PRIMITIVES.items() if name not in self.rules]
        return "\n".join(lines) + "\n"

    def _lark(self, root: str) -> str:
        lines = ["%llguidance {}", f"start: {_lark_body(root)}"]
        rules = {**PRIMITIVES, **self.rules}
        lines += [
            f"{_lark_name(name)}: {self._lark_rules.get(name) or _lark_body(body)}"
            for name, body in rules.items()
        ]
        lines += [
            f"{terminal}: %regex {json.dumps({'substring_chunks': chunks}, ensure_ascii=False)}"
            for terminal, chunks in self.substrings.items()
        ]
        lines += [f"{_lark_name(n)}[lazy]: /(?s:.*){_regex_text(t)}/" for n, t in self.raw.items()]
        return "\n".join(lines) + "\n"
