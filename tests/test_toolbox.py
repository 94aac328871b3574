"""Validation and error routing of model calls: nothing a model sends can crash the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
from pydantic import Field

from agent.messages import ToolCall
from sandbox.subprocess_sandbox import SubprocessSandbox
from tools.base import ToolArgs, ToolContext, ToolResult
from tools.registry import Toolbox, default_tools, run_tool_by_name


class BoomArgs(ToolArgs):
    n: int = Field(description="a number")


class Boom:
    name = "boom"
    description = "Always crashes."
    args_model = BoomArgs

    def run(self, args: BoomArgs, ctx: ToolContext) -> ToolResult:
        raise ZeroDivisionError("division by zero")


def box() -> Toolbox:
    return Toolbox([*default_tools(), Boom()])


def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(root=tmp_path, sandbox=SubprocessSandbox())


def outcome(tmp_path: Path, name: str, arguments: Any = None, **extra: Any):
    return box().call(ToolCall(id="c", name=name, arguments=arguments or {}, **extra), ctx(tmp_path))


def test_schemas_are_derived_valid_and_title_free() -> None:
    for spec in box().specs():
        jsonschema.Draft202012Validator.check_schema(spec.parameters)
        assert "title" not in str(spec.parameters)
        assert spec.parameters["type"] == "object"


def test_unknown_tool_lists_the_real_ones(tmp_path: Path) -> None:
    out = outcome(tmp_path, "open_file", {"path": "x"})
    assert out.error == "unknown_tool" and "read_file" in out.result.output


def test_wrong_types_missing_and_extra_arguments(tmp_path: Path) -> None:
    assert outcome(tmp_path, "read_file", {"path": 3}).error == "schema"
    missing = outcome(tmp_path, "read_file", {})
    assert missing.error == "schema" and "'path' is a required property" in missing.result.output
    extra = outcome(tmp_path, "read_file", {"path": "a", "colour": "red"})
    assert extra.error == "schema" and "colour" in extra.result.output
    assert outcome(tmp_path, "read_file", {"path": "a", "start_line": 0}).error == "schema"


def test_parse_errors_reach_the_model(tmp_path: Path) -> None:
    out = outcome(tmp_path, "read_file", raw_arguments="{bad", parse_error="not valid JSON")
    assert out.error == "parse_error" and "not valid JSON" in out.result.output


def test_a_crashing_tool_becomes_an_observation(tmp_path: Path) -> None:
    out = outcome(tmp_path, "boom", {"n": 1})
    assert out.error == "tool_crash" and "ZeroDivisionError" in out.result.output


def test_run_tool_by_name_validates_like_a_model_call(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    good = run_tool_by_name(box(), "read_file", '{"path": "a.txt"}', ctx(tmp_path))
    assert good.error is None and "1| hello" in good.result.output
    assert run_tool_by_name(box(), "read_file", "{nope", ctx(tmp_path)).error == "parse_error"
    assert run_tool_by_name(box(), "read_file", "[1]", ctx(tmp_path)).error == "parse_error"
