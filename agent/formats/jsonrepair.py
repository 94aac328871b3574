"""Lenient JSON for model output: strict JSON first, then only the unambiguous repairs.

Repairs: trailing commas, single-quoted strings, Python `True`/`False`/`None`, raw newlines inside
strings, backslashes that are no JSON escape (`"\\d"` means the two characters), missing closing
brackets at the end. Anything else raises `JSONRepairError` saying where.

JSON nested deeper than `MAX_DEPTH` is refused before any decoder sees it: Python's decoder recurses
once per level (100,000 `[` raised RecursionError), and no tool's arguments are more than a few
levels deep.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WORD = re.compile(r"[A-Za-z_]+")
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_JSON_ESCAPES = frozenset('"\\/bfnrtu')
_STRUCTURE = re.compile(r"[\"'\\\[\]{}]")
MAX_DEPTH = 64


class JSONRepairError(ValueError):
    """The text is not JSON, even after the unambiguous repairs; the message says where."""


def loads_lenient(text: str) -> Any:
    """Strict JSON first; else the unambiguous repairs; else `JSONRepairError` saying where.
    A lone surrogate escape (`"\\udfff"`, which the 1.5B model once sampled) comes back as
    U+FFFD: such a string cannot be encoded, and the next prompt's rendering died on it."""
    check_depth(text)
    return no_surrogates(_loads(text))


def loads_bounded(text: str) -> Any:
    """`json.loads`, but JSON nested deeper than `MAX_DEPTH` raises `JSONRepairError` instead of
    recursing (invalid JSON still raises `json.JSONDecodeError`; both are ValueErrors)."""
    check_depth(text)
    return json.loads(text)


def raw_decode(text: str) -> tuple[Any, int]:
    """`JSONDecoder(strict=False).raw_decode` under the same depth limit, surrogates replaced."""
    check_depth(text)
    value, end = json.JSONDecoder(strict=False).raw_decode(text)
    return no_surrogates(value), end


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise `JSONRepairError` when brackets outside strings nest deeper than `limit` in the first
    value of `text` (what a decoder reads; text after it is not JSON the decoders recurse into)."""
    depth, quote, escaped = 0, "", False
    for match in _STRUCTURE.finditer(text):
        ch = match.group()
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":  # the next character is escaped; skip it when it is one we watch
                following = text[match.end() : match.end() + 1]
                escaped = bool(following) and following in "\"'\\"
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise JSONRepairError(
                    f"the JSON is nested more than {limit} levels deep (at character {match.start()}); "
                    "tool arguments are a flat JSON object"
                )
        elif ch in "]}":
            depth -= 1
            if depth <= 0:
                return


_SURROGATE = re.compile("[\ud800-\udfff]")
_SCRUB_DEPTH = 200


def no_surrogates(value: Any, depth: int = 0) -> Any:
    """`value` with every lone surrogate (in strings, keys, nested values) replaced by U+FFFD.
    Values nested deeper than a parser lets through are cut (never a RecursionError)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if depth > _SCRUB_DEPTH:
        return "[nested too deep]"
    if isinstance(value, list | tuple):
        return [no_surrogates(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {no_surrogates(k, depth + 1): no_surrogates(v, depth + 1) for k, v in value.items()}
    return value


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        repaired = _repair(text).strip()
        decoder = json.JSONDecoder(strict=False)  # raw newlines inside strings are allowed
        try:
            value, end = decoder.raw_decode(repaired)
        except json.JSONDecodeError as second:  # what is still wrong once the near-misses are fixed
            raise JSONRepairError(_where(second)) from first
        if repaired[end:].strip(" \t\r\n}]"):  # more than stray closing brackets after the value
            raise JSONRepairError(_where(first)) from first
        return value


def _where(error: json.JSONDecodeError) -> str:
    near = error.doc[max(0, error.pos - 25) : error.pos + 25]
    return f"{error.msg} (line {error.lineno}, column {error.colno}, near {near!r})"


def _repair(text: str) -> str:
    """Single quotes -> double, no trailing commas, Python words -> JSON, missing closers added."""
    out: list[str] = []
    closers: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            end, closed = _string_end(text, i)
            literal = _double_quoted(text[i:end], closed) if ch == "'" else text[i:end]
            out.append(_fix_escapes(literal))
            if not closed:  # the text ends inside a string: a cut-off value, nothing to close
                return "".join(out)
            i = end
            continue
        if ch.isalpha():
            word = _WORD.match(text, i)
            assert word is not None
            out.append(_PYTHON_WORDS.get(word.group(), word.group()))
            i = word.end()
            continue
        if ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers and closers[-1] == ch:
            closers.pop()
        elif ch == "," and _TRAILING_COMMA.match(text, i):
            i += 1  # a trailing comma
            continue
        out.append(ch)
        i += 1
    return "".join(out) + "".join(reversed(closers))


def _fix_escapes(literal: str) -> str:
    """A backslash that starts no JSON escape stands for itself: it is doubled."""
    out, i = [], 0
    while i < len(literal):
        if literal[i] == "\\":
            if i + 1 < len(literal) and literal[i + 1] in _JSON_ESCAPES:
                out.append(literal[i : i + 2])
                i += 2
                continue
            out.append("\\\\")
        else:
            out.append(literal[i])
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> tuple[int, bool]:
    """(index just after the string literal opening at `start`, whether it is terminated)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1, True
        else:
            i += 1
    return len(text), False


def _double_quoted(literal: str, closed: bool) -> str:
    """A single-quoted literal (`'it\\'s "x"'`) as a JSON string (`"it's \\"x\\""`).

    An unterminated literal stays unterminated: a cut-off value is not guessed.
    """
    inner = literal[1:-1] if closed else literal[1:]
    out, i = [], 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            out.append("'" if inner[i + 1] == "'" else inner[i : i + 2])
            i += 2
            continue
        out.append('\\"' if inner[i] == '"' else inner[i])
        i += 1
    return '"' + "".join(out) + ('"' if closed else "")
