"""Calls written as JSON objects (`{"name": ..., "arguments": {...}}`): Hermes, Llama 3, Mistral.

Parsing and the grammar are shared; each format wraps them in its own tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from agent.formats.base import INTERRUPTED, failed
from agent.formats.jsonrepair import JSONRepairError, loads_lenient, raw_decode
from agent.grammar import GrammarBuilder, literal
from agent.messages import ToolCall, ToolSpec

_NAME = re.compile(r'["\']name["\']\s*:\s*["\']([^"\']+)["\']')
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
ARGUMENT_KEYS = ("arguments", "parameters")


def call_from_text(body: str, call_id: str) -> ToolCall:
    """One call from its JSON text; a `parse_error` says what was wrong and where."""
    body = body.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group(1)
    if not body:
        return failed(call_id, "", body, 'the tool call is empty; send {"name": "...", "arguments": {...}}')
    try:
        obj = loads_lenient(body)
    except JSONRepairError as exc:
        name = m.group(1) if (m := _NAME.search(body)) else ""
        return failed(
            call_id,
            name,
            body,
            f"the tool call is not valid JSON: {exc}. Send "
            '{"name": "...", "arguments": {...}} as strict JSON',
        )
    return call_from_object(obj, body, call_id)


def call_from_object(obj: Any, body: str, call_id: str) -> ToolCall:
    """A call from a decoded JSON value: `name`, and `arguments` (or `parameters`) as a dict or JSON text."""
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):  # OpenAI-shaped
        obj = obj["function"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return failed(
            call_id, "", body, 'a tool call must be a JSON object with a "name" string and "arguments"'
        )
    name: str = obj["name"]
    arguments: Any = next((obj[key] for key in ARGUMENT_KEYS if key in obj), {})
    if isinstance(arguments, str):  # arguments sent as a JSON string, OpenAI-style
        text = arguments
        try:
            arguments = loads_lenient(text) if text.strip() else {}
        except JSONRepairError as exc:
            return failed(call_id, name, text, f"the arguments string is not valid JSON: {exc}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return failed(
            call_id,
            name,
            json.dumps(arguments, ensure_ascii=False),
            f"arguments must be a JSON object, not {type(arguments).__name__}",
        )
    return ToolCall(id=call_id, name=name, arguments=arguments)


def interrupted(call_id: str, body: str) -> ToolCall:
    """A JSON call the model never closed before opening the next one: an error, name kept."""
    name = m.group(1) if (m := _NAME.search(body)) else ""
    return failed(call_id, name, body, f"the tool call is broken: {INTERRUPTED}; close each call")


def call_json(call: ToolCall, arguments_key: str = "arguments") -> str:
    """`{"name": ..., "<arguments_key>": {...}}` with `json.dumps` spacing (the templates' `tojson`)."""
    return json.dumps({"name": call.name, arguments_key: call.arguments}, ensure_ascii=False)


def json_call_rules(
    builder: GrammarBuilder,
    tools: Sequence[ToolSpec],
    only: str | None,
    arguments_key: str = "arguments",
    written: str = "",
) -> str:
    """Alternatives `{"name": "<tool>", "<arguments_key>": {...}}`, one per tool (or `only`).

    `written` is the start of every call that is already in the text (a format's opener such as
    `{"name": "`); the rules produce the rest.
    """
    alternatives = []
    for spec in tools:
        if only is not None and spec.name != only:
            continue
        args = builder.value({**spec.grammar_schema, "type": "object"}, f"args-{spec.name}")
        head = '{"name": ' + json.dumps(spec.name) + f', "{arguments_key}": '
        if not head.startswith(written):
            raise ValueError(f"{written!r} does not start a call")
        alternatives.append(builder.rule(f"call-{spec.name}", f'{literal(head[len(written) :])} {args} "}}"'))
    if not alternatives:
        raise ValueError(f"no tool named {only!r}")
    return " | ".join(alternatives)


def decode_calls(
    text: str, first_id: int, call_id: Callable[[int], str], need_arguments: bool = False
) -> tuple[list[ToolCall], str]:
    """Calls written one after the other as JSON objects (or a JSON list of them), and the text after.

    Separators between objects (`;`, `,`, whitespace) are skipped; decoding stops at text that is
    not another call. llama.cpp's envelopes `{"tool_call": {...}}` / `{"tool_calls": [...]}` are
    opened. When strict decoding fails, the rest is read with the lenient repairs as one value.
    With `need_arguments`, an object without `arguments`/`parameters` is text, not a call (bare
    JSON in prose).
    """
    calls: list[ToolCall] = []
    rest = text.strip()
    while rest and rest[0] in "[{":
        try:
            value, end = raw_decode(rest)
        except (json.JSONDecodeError, JSONRepairError):
            try:
                value, end = loads_lenient(rest), len(rest)
            except JSONRepairError:
                calls.append(call_from_text(rest, call_id(first_id + len(calls))))
                return calls, ""
        items = _call_items(value)
        if need_arguments and not all(_has_arguments(item) for item in items):
            break
        for item in items:
            calls.append(call_from_object(item, rest[:end], call_id(first_id + len(calls))))
        rest = rest[end:].lstrip(" \t\r\n;,")
    return calls, rest


def _call_items(value: Any) -> list[Any]:
    """The call objects in a decoded value: a list of them, an envelope, or one call."""
    if isinstance(value, list):
        return [item for element in value for item in _call_items(element)] or [value]
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        return [item for element in value["tool_calls"] for item in _call_items(element)]
    if isinstance(value, dict) and isinstance(value.get("tool_call"), dict):
        return [value["tool_call"]]
    return [value]


def _has_arguments(item: Any) -> bool:
    if isinstance(item, dict) and isinstance(item.get("function"), dict):
        item = item["function"]
    return isinstance(item, dict) and any(key in item for key in ARGUMENT_KEYS)
