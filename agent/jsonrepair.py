"""Lenient JSON for model output: strict JSON first, then only the unambiguous repairs.

Repairs: trailing commas, single-quoted strings, Python `True`/`False`/`None`, raw newlines inside
strings, backslashes that are no JSON escape (`"\\d"` means the two characters), missing closing
brackets at the end. Anything else raises `JSONRepairError` saying where.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WORD = re.compile(r"[A-Za-z_]+")
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_JSON_ESCAPES = frozenset('"\\/bfnrtu')


class JSONRepairError(ValueError):
    """The text is not JSON, even after the unambiguous repairs; the message says where."""


def loads_lenient(text: str) -> Any:
    """Strict JSON first; else the unambiguous repairs; else `JSONRepairError` saying where.
    A lone surrogate escape (`"\\udfff"`, which the 1.5B model once sampled) comes back as
    U+FFFD: such a string cannot be encoded, and the next prompt's rendering died on it."""
    return _no_surrogates(_loads(text))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
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
