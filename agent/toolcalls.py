"""Hermes / Qwen2.5-style tool calls: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`.

Parsing repairs near-misses only where the intent is unambiguous: trailing commas, single-quoted
strings, Python `True`/`False`/`None`, raw newlines inside strings, unbalanced closing brackets at
the end, a missing closing tag at the end of the output, arguments sent as a JSON string. Anything
else becomes a `ToolCall` carrying a precise `parse_error` for the model; parsing never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from agent.messages import ToolCall

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_NAME = re.compile(r'["\']name["\']\s*:\s*["\']([^"\']+)["\']')
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}


class JSONRepairError(ValueError):
    """The text is not JSON, even after the unambiguous repairs; the message says where."""


# ---- lenient JSON -------------------------------------------------------------------------


def loads_lenient(text: str) -> Any:
    """Strict JSON first; else the unambiguous repairs; else `JSONRepairError` saying where."""
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
            out.append(_double_quoted(text[i:end], closed) if ch == "'" else text[i:end])
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


# ---- calls --------------------------------------------------------------------------------


def call_id(index: int) -> str:
    """The id of the `index`-th call of a message: `call_0`, `call_1`, ... (unique per message)."""
    return f"call_{index}"


def render_call(call: ToolCall) -> str:
    """The canonical text of one call: what the engine generates and re-renders, byte for byte."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def render_calls(calls: Sequence[ToolCall]) -> str:
    """Several calls of one message, one after the other (Qwen2.5's own separator: a newline)."""
    return "\n".join(render_call(c) for c in calls)


def _failed(call_id_: str, name: str, raw: str, error: str) -> ToolCall:
    return ToolCall(id=call_id_, name=name, raw_arguments=raw, parse_error=error)


def parse_call_body(body: str, call_id_: str) -> ToolCall:
    """One call from the text between the tags; a `parse_error` says what was wrong and where."""
    body = body.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group(1)
    if not body:
        return _failed(call_id_, "", body, 'the tool call is empty; send {"name": "...", "arguments": {...}}')
    try:
        obj = loads_lenient(body)
    except JSONRepairError as exc:
        name = m.group(1) if (m := _NAME.search(body)) else ""
        return _failed(
            call_id_,
            name,
            body,
            f"the tool call is not valid JSON: {exc}. Send "
            '{"name": "...", "arguments": {...}} as strict JSON',
        )
    return _call_from_object(obj, body, call_id_)


def _call_from_object(obj: Any, body: str, call_id_: str) -> ToolCall:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return _failed(
            call_id_, "", body, 'a tool call must be a JSON object with a "name" string and "arguments"'
        )
    name: str = obj["name"]
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):  # arguments sent as a JSON string, OpenAI-style
        text = arguments
        try:
            arguments = loads_lenient(text) if text.strip() else {}
        except JSONRepairError as exc:
            return _failed(call_id_, name, text, f"the arguments string is not valid JSON: {exc}")
    if not isinstance(arguments, dict):
        return _failed(
            call_id_,
            name,
            json.dumps(arguments, ensure_ascii=False),
            f"arguments must be a JSON object, not {type(arguments).__name__}",
        )
    return ToolCall(id=call_id_, name=name, arguments=arguments)


def _segments(text: str) -> Iterator[tuple[str, str | None]]:
    """(text before, call body or None) pieces of a whole model output."""
    rest = text
    while True:
        at = rest.find(OPEN)
        if at == -1:
            yield rest, None
            return
        before, rest = rest[:at], rest[at + len(OPEN) :]
        end = rest.find(CLOSE)
        if end == -1:  # unclosed final call: the output ended inside it
            yield before, rest
            return
        yield before, rest[:end]
        rest = rest[end + len(CLOSE) :]


def parse_tool_calls(text: str, first_id: int = 0) -> tuple[str, list[ToolCall]]:
    """Split a model output into its plain text (outside the calls, stripped) and its tool calls."""
    plain: list[str] = []
    calls: list[ToolCall] = []
    for before, body in _segments(text):
        plain.append(before)
        if body is not None:
            calls.append(parse_call_body(body, call_id(first_id + len(calls))))
    return "".join(plain).strip(), calls


class StreamSplitter:
    """Streams text that is safe to show while watching for markers split across chunks.

    It holds back any tail that could be the start of a call opener (`<tool_call>` by default) or
    of a stop string. Once an opener appears `in_call` is set (and `opener` names it); once a stop
    string appears `stopped` is set; either way nothing more is shown.
    """

    def __init__(self, stops: Sequence[str] = (), opens: Sequence[str] = (OPEN,)) -> None:
        self._opens = tuple(o for o in opens if o)
        self._markers = (*self._opens, *[s for s in stops if s])
        self._pending = ""
        self.in_call = False
        self.stopped = False
        self.opener = ""

    @property
    def done(self) -> bool:
        return self.in_call or self.stopped

    def feed(self, chunk: str) -> str:
        """The part of everything fed so far that is now safe to show and was not shown yet."""
        if self.done:
            return ""
        self._pending += chunk
        found = [(self._pending.find(m), m) for m in self._markers if m in self._pending]
        if found:
            at, marker = min(found)
            self.in_call = marker in self._opens
            self.stopped = not self.in_call
            self.opener = marker if self.in_call else ""
            shown, self._pending = self._pending[:at], ""
            return shown
        keep = max((_partial_suffix(self._pending, m) for m in self._markers), default=0)
        shown = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return shown

    def flush(self) -> str:
        """At the end of the stream: a held-back tail that turned out not to be a marker."""
        shown, self._pending = ("" if self.done else self._pending), ""
        return shown


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
