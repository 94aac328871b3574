"""The toolbox: tool specs for the model, and validated dispatch of the model's calls.

Every failure the model can fix comes back as an `Outcome` with an error category and a message
for the model; nothing a model sends can raise out of `Toolbox.call`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from agent.messages import ToolCall, ToolSpec
from tools import create_file, edit_file, finish, list_files, read_file, run_tests, search, shell
from tools.base import Tool, ToolContext, ToolError, ToolResult


class Outcome(BaseModel):
    result: ToolResult
    error: str | None = None  # unknown_tool | parse_error | schema | tool_error | tool_crash
    seconds: float = 0.0


def _clean(schema: Any) -> Any:
    """Drop pydantic's titles: they cost small models tokens and say nothing new."""
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


def schema_for(tool: Tool) -> dict[str, Any]:
    schema = _clean(tool.args_model.model_json_schema())
    schema.setdefault("properties", {})
    return dict(schema)


def _schema_message(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    return f"invalid arguments: {where}: {error.message}"


class Toolbox:
    def __init__(self, tools: Sequence[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._specs = [
            ToolSpec(name=t.name, description=t.description, parameters=schema_for(t)) for t in tools
        ]
        self._validators = {s.name: jsonschema.Draft202012Validator(s.parameters) for s in self._specs}

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return list(self._specs)

    def call(self, call: ToolCall, ctx: ToolContext) -> Outcome:
        started = time.monotonic()
        outcome = self._dispatch(call, ctx)
        outcome.seconds = round(time.monotonic() - started, 3)
        return outcome

    def _dispatch(self, call: ToolCall, ctx: ToolContext) -> Outcome:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return _failure("unknown_tool", f"unknown tool {call.name!r}. Available tools: {known}")
        if call.parse_error:
            return _failure(
                "parse_error", f"could not parse the arguments of {call.name}: {call.parse_error}"
            )
        errors = sorted(self._validators[call.name].iter_errors(call.arguments), key=lambda e: e.path)
        if errors:
            return _failure("schema", "\n".join(_schema_message(e) for e in errors[:5]))
        try:
            args = tool.args_model.model_validate(call.arguments)
            return Outcome(result=tool.run(args, ctx))
        except ToolError as exc:
            return _failure("tool_error", f"error: {exc}")
        except ValidationError as exc:
            return _failure("schema", f"invalid arguments: {exc}")
        except Exception as exc:  # a tool bug must not end the run; the model and the report see it
            return _failure("tool_crash", f"tool {call.name} crashed: {type(exc).__name__}: {exc}")


def _failure(category: str, message: str) -> Outcome:
    return Outcome(result=ToolResult(output=message, ok=False), error=category)


def default_tools() -> list[Tool]:
    return [
        read_file.TOOL,
        search.TOOL,
        list_files.TOOL,
        edit_file.TOOL,
        create_file.TOOL,
        run_tests.TOOL,
        shell.TOOL,
        finish.TOOL,
    ]


def run_tool_by_name(toolbox: Toolbox, name: str, args_json: str, ctx: ToolContext) -> Outcome:
    """`agent tool NAME --args JSON`: the same parsing and validation as a model's call."""
    try:
        arguments = json.loads(args_json)
    except json.JSONDecodeError as exc:
        return _failure("parse_error", f"--args is not valid JSON: {exc}")
    if not isinstance(arguments, dict):
        return _failure("parse_error", "--args must be a JSON object")
    return toolbox.call(ToolCall(id="manual", name=name, arguments=arguments), ctx)
