"""Coercing argument values to the types of the tool's JSON schema.

XML-style formats (GLM, Qwen3-Coder) send every value as text; sloppy models send `"12"` for an
integer even in JSON. A value is converted only when the text is unambiguously of an allowed
non-string type (`"12"` for an integer, `"true"` for a boolean, a JSON array for an array); text
that is valid for a string stays a string otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.formats.jsonrepair import JSONRepairError, loads_bounded

_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NULLS = {"null", "None"}


def allowed_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema admits (empty: any)."""
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {_json_type(v) for v in values}
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        kinds: set[str] = set()
        for option in options:
            sub = allowed_types(option)
            if not sub:
                return set()
            kinds |= sub
        return kinds
    kind = schema.get("type")
    if isinstance(kind, list):
        return {str(k) for k in kind}
    return {str(kind)} if kind else set()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


class CoercionError(ValueError):
    """A value given as text for a list or object parameter is not valid JSON of that type."""


def _from_text(text: str, kind: str) -> tuple[bool, Any]:
    """(True, value) when `text` is unambiguously a value of JSON type `kind`."""
    word = text.strip()
    if kind == "integer" and _INTEGER.fullmatch(word):
        return True, int(word)
    if kind == "number" and _NUMBER.fullmatch(word):
        number = float(word)
        return True, int(number) if _INTEGER.fullmatch(word) else number
    if kind == "boolean" and word.lower() in ("true", "false"):
        return True, word.lower() == "true"
    if kind == "null" and word in _NULLS:
        return True, None
    if kind in ("array", "object") and word[:1] in "[{":
        try:
            value = loads_bounded(word)
        except json.JSONDecodeError as exc:
            raise CoercionError(f"is not valid JSON ({exc.msg} at column {exc.colno})") from exc
        except JSONRepairError as exc:
            raise CoercionError(f"is not usable JSON: {exc}") from exc
        if _json_type(value) == kind:
            return True, value
    return False, None


def coerce_value(value: Any, schema: dict[str, Any]) -> Any:
    """`value` converted to a type the schema admits, when it is text that unambiguously is one."""
    if not isinstance(value, str):
        return value
    kinds = allowed_types(schema)
    order = ["null", "boolean", "integer", "number", "array", "object"]
    if "string" in kinds:
        order = ["null"]  # text is a valid string; only an explicit null is read as null
    for kind in order:
        if kind in kinds:
            ok, converted = _from_text(value, kind)
            if ok:
                return converted
    return value


def coerce_arguments(arguments: dict[str, Any], parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Every argument the schema describes, coerced to its type; others are left as sent.

    Raises `CoercionError` (naming the argument) when a list or object is broken JSON text.
    """
    if not parameters:
        return arguments
    properties = parameters.get("properties", {})
    coerced: dict[str, Any] = {}
    for key, value in arguments.items():
        try:
            coerced[key] = coerce_value(value, properties[key]) if key in properties else value
        except CoercionError as exc:
            raise CoercionError(f"argument {key!r} {exc}") from exc
    return coerced
