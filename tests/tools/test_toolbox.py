"""Validation and error routing of model calls: nothing a model sends can crash the loop."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from pydantic import Field

from agent.messages import ToolCall
from sandbox.bubblewrap import BubblewrapSandbox
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.registry import Toolbox, ToolOutcome, default_tools, run_tool_by_name


class NoteArgs(ToolArgs):
    title: str = Field(description="an argument that happens to be called title")
    count: int = Field(1, ge=1, description="how many")
    tags: list[str] | None = Field(None, description="optional tags")


class Note:
    """A test tool that records its runs, fails on request, and crashes on request."""

    name = "note"
    kind: ToolKind = "read"
    description = "Take a note."
    args_model = NoteArgs

    def __init__(self) -> None:
        self.runs: list[NoteArgs] = []

    def run(self, args: NoteArgs, ctx: ToolContext) -> ToolResult:
        self.runs.append(args)
        if args.title == "fail":
            raise ToolError("title 'fail' is not allowed; pick another title")
        if args.title == "crash":
            return ToolResult(output=str(1 // (args.count - args.count)))
        return ToolResult(output=f"noted {args.title} x{args.count}", data={"tags": args.tags})


@pytest.fixture
def note() -> Note:
    return Note()


@pytest.fixture
def box(note: Note) -> Toolbox:
    return Toolbox([*default_tools(), note])


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(root=tmp_path, sandbox=BubblewrapSandbox())


def outcome(box: Toolbox, ctx: ToolContext, name: str, arguments: Any = None, **extra: Any) -> ToolOutcome:
    return box.call(ToolCall(id="c", name=name, arguments=arguments or {}, **extra), ctx)


def test_default_tools_and_their_schemas() -> None:
    box = Toolbox(default_tools())
    assert box.names == [
        "read_file",
        "search",
        "find_symbol",
        "list_files",
        "edit_file",
        "create_file",
        "run_tests",
        "shell",
        "finish",
    ]
    for spec in box.specs():
        jsonschema.Draft202012Validator.check_schema(spec.parameters)
        assert '"title"' not in str(spec.parameters).replace("'", '"')
        assert spec.parameters["type"] == "object" and spec.parameters["additionalProperties"] is False
        assert all(prop.get("description") for prop in spec.parameters["properties"].values())
        assert 0 < len(spec.description) <= 120 and spec.description.count(".") <= 2
    read = next(s for s in box.specs() if s.name == "read_file")
    assert (
        read.parameters["required"] == ["path"]
        and read.parameters["properties"]["start_line"]["default"] == 1
    )


def test_an_argument_named_title_survives_cleaning(box: Toolbox) -> None:
    spec = next(s for s in box.specs() if s.name == "note")
    assert list(spec.parameters["properties"]) == ["title", "count", "tags"]
    assert spec.parameters["required"] == ["title"]


def test_a_valid_call_runs_the_tool(box: Toolbox, ctx: ToolContext, note: Note) -> None:
    out = outcome(box, ctx, "note", {"title": "t", "count": 2, "tags": ["a"]})
    assert out.error is None and out.result.output == "noted t x2" and out.result.data == {"tags": ["a"]}
    assert out.seconds >= 0 and len(note.runs) == 1


def test_unknown_tool_lists_the_real_ones(box: Toolbox, ctx: ToolContext) -> None:
    out = outcome(box, ctx, "open_file", {"path": "x"})
    assert out.error == "unknown_tool" and not out.result.ok
    assert out.result.output == (
        "unknown tool 'open_file'. Available tools: read_file, search, find_symbol, list_files, edit_file, "
        "create_file, run_tests, shell, finish, note"
    )


def test_schema_violations_are_caught_before_the_tool_runs(
    box: Toolbox, ctx: ToolContext, note: Note
) -> None:
    wrong_type = outcome(box, ctx, "note", {"title": 3})
    assert wrong_type.error == "schema"
    assert "- title: 3 is not of type 'string'" in wrong_type.result.output
    assert "note takes: title (string, required), count (integer), tags (list of string or null)" in (
        wrong_type.result.output
    )
    missing = outcome(box, ctx, "note", {"count": 2})
    assert missing.error == "schema" and "'title' is a required property" in missing.result.output
    extra = outcome(box, ctx, "note", {"title": "t", "colour": "red"})
    assert extra.error == "schema" and "('colour' was unexpected)" in extra.result.output
    too_small = outcome(box, ctx, "note", {"title": "t", "count": 0})
    assert too_small.error == "schema" and "count: 0 is less than the minimum of 1" in too_small.result.output
    nested = outcome(box, ctx, "note", {"title": "t", "tags": [1]})
    assert nested.error == "schema" and "tags.0: 1 is not of type 'string'" in nested.result.output
    union = outcome(box, ctx, "note", {"title": "t", "tags": "a"})
    assert union.error == "schema" and "tags: 'a' is not of type 'array'" in union.result.output
    assert note.runs == []


def test_validation_uses_exactly_the_advertised_schema(box: Toolbox, ctx: ToolContext) -> None:
    samples: list[tuple[str, dict[str, Any]]] = [
        ("read_file", {"path": "a", "end_line": None}),
        ("read_file", {"path": "a", "start_line": "1"}),
        ("search", {"pattern": "x", "max_results": 501}),
        ("run_tests", {"paths": "tests"}),
        ("shell", {"command": "true", "timeout": 0}),
        ("create_file", {"path": "a", "content": "x", "overwrite": "yes"}),
    ]
    specs = {s.name: s.parameters for s in box.specs()}
    for name, arguments in samples:
        advertised_ok = jsonschema.Draft202012Validator(specs[name]).is_valid(arguments)
        assert (outcome(box, ctx, name, arguments).error != "schema") is advertised_ok, (name, arguments)


def test_parse_errors_reach_the_model(box: Toolbox, ctx: ToolContext, note: Note) -> None:
    out = outcome(box, ctx, "note", raw_arguments="{bad", parse_error="expected a JSON object at position 1")
    assert out.error == "parse_error" and "expected a JSON object at position 1" in out.result.output
    assert "note takes: title" in out.result.output and note.runs == []


def test_tool_errors_and_crashes_become_observations(box: Toolbox, ctx: ToolContext) -> None:
    failed = outcome(box, ctx, "note", {"title": "fail"})
    assert failed.error == "tool_error"
    assert failed.result.output == "error: title 'fail' is not allowed; pick another title"
    crashed = outcome(box, ctx, "note", {"title": "crash"})
    assert crashed.error == "tool_crash" and not crashed.result.ok
    assert (
        crashed.result.output
        == "tool crashed: note raised ZeroDivisionError: integer division or modulo by zero"
    )


def test_run_tool_by_name_validates_like_a_model_call(box: Toolbox, ctx: ToolContext) -> None:
    (ctx.root / "a.txt").write_text("hello\n")
    good = run_tool_by_name(box, "read_file", '{"path": "a.txt"}', ctx)
    digest = hashlib.sha256(b"hello\n").hexdigest()[:8]
    assert good.error is None and good.result.output == f"a.txt (lines 1-1 of 1, hash {digest})\n1| hello"
    bad_json = run_tool_by_name(box, "read_file", "{nope", ctx)
    assert bad_json.error == "parse_error" and "not valid JSON" in bad_json.result.output
    not_object = run_tool_by_name(box, "read_file", "[1]", ctx)
    assert not_object.error == "parse_error" and "JSON object" in not_object.result.output
    assert run_tool_by_name(box, "list_files", "", ctx).error is None
    assert run_tool_by_name(box, "nope", "{}", ctx).error == "unknown_tool"


def test_duplicate_tool_names_are_a_programming_error(note: Note) -> None:
    with pytest.raises(ValueError, match="share a name"):
        Toolbox([note, Note()])


class Given:
    """A tool whose schema is given (as an MCP server's is), not derived from an Args model."""

    name = "given"
    kind: ToolKind = "read"
    description = "A tool with a hand-given draft-07 schema."
    parameters: ClassVar[dict[str, Any]] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 3}},
        "required": ["n"],
        "additionalProperties": False,
    }

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        self.seen.append(arguments)
        return ToolResult(output=f"n={arguments['n']}")


def test_given_schema_tools_are_validated_against_exactly_that_schema(ctx: ToolContext) -> None:
    given = Given()
    box = Toolbox([*default_tools(), given])
    [spec] = [s for s in box.specs() if s.name == "given"]
    assert spec.parameters == Given.parameters
    assert outcome(box, ctx, "given", {"n": 2}).result.output == "n=2"
    assert outcome(box, ctx, "given", {"n": 4}).error == "schema"
    assert outcome(box, ctx, "given", {"n": 1, "m": 1}).error == "schema"
    assert given.seen == [{"n": 2}]


def test_an_argument_that_repeats_its_own_description_is_refused(
    box: Toolbox, ctx: ToolContext, note: Note
) -> None:
    out = outcome(box, ctx, "note", {"title": "An argument that happens to be called title."})
    assert out.error == "schema" and "title is the parameter's description, not a value" in out.result.output
    assert not note.runs
    spec = {s.name: s for s in box.specs()}["edit_file"].parameters["properties"]
    copied = {key: spec[key]["description"] for key in ("path", "old_text", "new_text")}
    refused = outcome(box, ctx, "edit_file", copied)  # what the 0.5B model sent, word for word
    assert refused.error == "schema" and "path is the parameter's description" in refused.result.output
    assert outcome(box, ctx, "note", {"title": "an argument"}).error is None  # a value that only starts so


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_arguments_nested_too_deep_are_refused_before_validation(
    box: Toolbox, ctx: ToolContext, note: Note
) -> None:
    deep = outcome(box, ctx, "note", {"title": "t", "tags": nested(5000)})
    assert deep.error == "schema" and "tags: nested more than 64 levels deep" in deep.result.output
    assert "note takes: title" in deep.result.output and not note.runs
    assert outcome(box, ctx, "note", {"title": "t", "tags": ["a"]}).error is None


def test_surrogates_and_nul_characters_are_named_with_where_they_are(box: Toolbox, ctx: ToolContext) -> None:
    lone = outcome(box, ctx, "note", {"title": "t", "tags": ["ok", "bad\udcff"]})
    assert lone.error == "schema" and "tags.1: a lone surrogate (\\udcff)" in lone.result.output
    assert lone.result.output.encode("utf-8")  # the observation itself can be encoded
    nul = outcome(box, ctx, "note", {"title": "a\0b"})
    assert nul.error == "schema" and "title: a NUL character" in nul.result.output
    key = outcome(box, ctx, "note", {"title": "t", "\udcff": 1})
    assert key.error == "schema" and "a lone surrogate" in key.result.output


class BadPattern:
    """A given-schema tool (an MCP server's) whose schema holds a regex that does not compile."""

    name = "bad_pattern"
    kind: ToolKind = "read"
    description = "Its schema cannot be checked."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"q": {"type": "string", "pattern": "(unclosed"}},
    }

    def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult(output="ran")


class Unprintable(Note):
    """A tool whose output holds a lone surrogate (a file name decoded with surrogateescape)."""

    name = "unprintable"
    kind: ToolKind = "read"

    def run(self, args: NoteArgs, ctx: ToolContext) -> ToolResult:
        return ToolResult(output="name: bad\udcff.py", data={"names": ["bad\udcff.py"]})


def test_nothing_raises_out_of_call(ctx: ToolContext) -> None:
    box = Toolbox([BadPattern(), Unprintable()])
    crashed = outcome(box, ctx, "bad_pattern", {"q": "x"})
    assert crashed.error == "tool_crash" and "bad_pattern" in crashed.result.output
    printed = outcome(box, ctx, "unprintable", {"title": "t"})
    assert printed.error is None and printed.result.output == "name: bad\ufffd.py"
    assert printed.model_dump_json()  # outcomes always serialize (events, trajectories, --json)


def test_run_tool_by_name_refuses_deep_json_text(box: Toolbox, ctx: ToolContext) -> None:
    deep = run_tool_by_name(box, "read_file", '{"path": ' + "[" * 100_000 + "]" * 100_000 + "}", ctx)
    assert deep.error == "parse_error" and "nested more than 64 levels deep" in deep.result.output
