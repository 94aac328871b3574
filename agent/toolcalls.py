"""Hermes / Qwen2.5-style tool calls: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`.

Parsing repairs near-misses only where the intent is unambiguous (trailing commas, single-quoted
JSON, a missing closing tag at the end of the output, arguments sent as a JSON string). Anything
else becomes a `ToolCall` carrying a precise `parse_error` for the model; parsing never raises.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from agent.messages import ToolCall

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_NAME = re.compile(r'["\']name["\']\s*:\s*["\']([^"\']+)["\']')


def render_call(call: ToolCall) -> str:
    """The canonical text of one call: what the engine generates and re-renders, byte for byte."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def _loads(text: str) -> Any:
    """JSON, then the unambiguous repairs; raises ValueError with the original JSON error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        candidates = [_TRAILING_COMMA.sub(r"\1", text)]
        for candidate in candidates:
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                pass
        try:
            value = ast.literal_eval(candidates[0])  # single quotes, Python literals
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"{first.msg} at line {first.lineno} column {first.colno}") from first
        if isinstance(value, dict):
            return value
        raise ValueError(f"{first.msg} at line {first.lineno} column {first.colno}") from first


def parse_call_body(body: str, call_id: str) -> ToolCall:
    body = body.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        obj = _loads(body)
    except ValueError as exc:
        name = m.group(1) if (m := _NAME.search(body)) else ""
        return ToolCall(
            id=call_id,
            name=name,
            raw_arguments=body,
            parse_error=f"the tool call is not valid JSON ({exc}); send "
            '{"name": "...", "arguments": {...}} as strict JSON',
        )
    return _call_from_object(obj, body, call_id)


def _call_from_object(obj: Any, body: str, call_id: str) -> ToolCall:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return ToolCall(
            id=call_id,
            name="",
            raw_arguments=body,
            parse_error='a tool call must be a JSON object with a "name" string and "arguments"',
        )
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = _loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            return ToolCall(
                id=call_id,
                name=obj["name"],
                raw_arguments=arguments,
                parse_error=f"arguments are not valid JSON ({exc})",
            )
    if not isinstance(arguments, dict):
        return ToolCall(
            id=call_id,
            name=obj["name"],
            raw_arguments=json.dumps(arguments),
            parse_error="arguments must be a JSON object",
        )
    return ToolCall(id=call_id, name=obj["name"], arguments=arguments)


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
    """Split a model output into its plain text and its tool calls."""
    plain: list[str] = []
    calls: list[ToolCall] = []
    for before, body in _segments(text):
        plain.append(before)
        if body is not None and body.strip():
            calls.append(parse_call_body(body, f"call_{first_id + len(calls)}"))
    return "".join(plain).strip(), calls


class StreamSplitter:
    """Streams text that is safe to show while watching for markers split across chunks.

    It holds back any tail that could be the start of a call opener (`<tool_call>` by default) or
    of a stop string. Once an opener appears `in_call` is set; once a stop string appears
    `stopped` is set; either way nothing more is shown.
    """

    def __init__(self, stops: Sequence[str] = (), opens: Sequence[str] = (OPEN,)) -> None:
        self._opens = tuple(opens)
        self._markers = (*self._opens, *[s for s in stops if s])
        self._pending = ""
        self.in_call = False
        self.stopped = False

    def feed(self, chunk: str) -> str:
        if self.in_call or self.stopped:
            return ""
        self._pending += chunk
        found = [(self._pending.find(m), m) for m in self._markers if m in self._pending]
        if found:
            at, marker = min(found)
            self.in_call = marker in self._opens
            self.stopped = not self.in_call
            shown, self._pending = self._pending[:at], ""
            return shown
        keep = max(_partial_suffix(self._pending, m) for m in self._markers)
        shown = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return shown

    def flush(self) -> str:
        shown, self._pending = ("" if self.in_call or self.stopped else self._pending), ""
        return shown


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
