"""The toolbox: tool specs for the model, and validated dispatch of the model's calls; which tools
a run offers (the edit tools by model family included).

Every failure comes back as a `ToolOutcome` with an error category and a message for the model;
nothing a model sends (and no bug in a tool) can raise out of `Toolbox.call`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import jsonschema
from pydantic import ValidationError

from agent.formats.jsonrepair import MAX_DEPTH, loads_bounded, no_surrogates
from agent.messages import ToolCall, ToolSpec
from tools import (
    apply_patch,
    create_file,
    edit_file,
    find_symbol,
    finish,
    list_files,
    read_file,
    replace_lines,
    run_tests,
    search,
    shell,
    write_code,
)
from tools.base import NoChange, SchemaTool, Tool, ToolContext, ToolError, ToolKind, ToolOutcome, ToolResult
from tools.grounding import Ground, RepoView, grounded_schema
from tools.web.config import WebFetchConfig

ERROR_CATEGORIES = ("unknown_tool", "parse_error", "schema", "tool_error", "tool_crash")
MAX_SCHEMA_ERRORS = 5
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")  # name -> schema


Outcome = ToolOutcome  # older name, kept for callers that import it


def clean_schema(schema: Any) -> Any:
    """Drop pydantic's "title" annotations (tokens that say nothing new to a small model).

    Keys of "properties" are argument names, not keywords: an argument called "title" stays.
    """
    if isinstance(schema, list):
        return [clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: clean_schema(sub) for name, sub in value.items()}
        else:
            cleaned[key] = clean_schema(value)
    return cleaned


def schema_for(tool: Tool) -> dict[str, Any]:
    schema: dict[str, Any] = clean_schema(tool.args_model.model_json_schema())
    schema.setdefault("properties", {})
    return schema


class ModelTool:
    """A `Tool` seen as a `SchemaTool`: the schema derived from its `Args`, which validates again."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        self.name = tool.name
        self.kind: ToolKind = tool.kind
        self.description = tool.description
        self.parameters = schema_for(tool)
        self.grounds: dict[str, Ground] = dict(getattr(tool, "grounds", {}))

    def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return self.tool.run(self.tool.args_model.model_validate(arguments), ctx)


def as_schema_tool(tool: Tool | SchemaTool) -> SchemaTool:
    """What the Toolbox holds: given-schema tools as they are, our tools through `ModelTool`."""
    if hasattr(tool, "args_model"):
        return ModelTool(cast(Tool, tool))
    return cast(SchemaTool, tool)


def _kind(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_kind(option) for option in schema["anyOf"])
    kind = str(schema.get("type", "value"))
    if kind == "array":
        return f"list of {_kind(schema.get('items', {}))}"
    return kind


def usage(name: str, schema: dict[str, Any]) -> str:
    """One line the model can follow: every argument with its type, required ones marked."""
    required = set(schema.get("required", []))
    parts = [
        f"{prop} ({_kind(sub)}{', required' if prop in required else ''})"
        for prop, sub in schema.get("properties", {}).items()
    ]
    return f"{name} takes: {', '.join(parts) or 'no arguments'}"


def _closest_alternative(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf/oneOf: the failure of the alternative that got furthest, never the "null" one."""
    if not error.context:
        return error
    alternatives = [
        e for e in error.context if not (isinstance(e.schema, dict) and e.schema.get("type") == "null")
    ] or list(error.context)
    deepest = max(alternatives, key=lambda e: len(e.absolute_path))
    return _closest_alternative(deepest)


def _schema_message(error: jsonschema.ValidationError) -> str:
    error = _closest_alternative(error)
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    return f"{where}: {error.message}"


def _failure(category: str, message: str) -> ToolOutcome:
    return ToolOutcome(result=ToolResult(output=message, ok=False), error=category)


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """The validator for the schema's own `$schema` dialect (2020-12 when it names none)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


class Toolbox:
    """Our tools (schema derived from `Args`) and given-schema tools (MCP), validated the same way."""

    def __init__(self, tools: Sequence[Tool | SchemaTool]) -> None:
        self._tools = {tool.name: as_schema_tool(tool) for tool in tools}
        if len(self._tools) != len(tools):
            raise ValueError("two tools share a name")
        self._specs = [
            ToolSpec(name=t.name, description=t.description, parameters=t.parameters)
            for t in self._tools.values()
        ]
        self._validators = {s.name: _validator(s.parameters) for s in self._specs}
        self._usage = {s.name: usage(s.name, s.parameters) for s in self._specs}

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def kind(self, name: str) -> ToolKind | None:
        """What the tool called `name` does (tools/base.py `ToolKind`); None for no such tool."""
        tool = self._tools.get(name)
        return tool.kind if tool is not None else None

    def specs(self) -> list[ToolSpec]:
        return [spec.model_copy(deep=True) for spec in self._specs]

    def grounded_specs(
        self, ctx: ToolContext, barred: Mapping[str, set[int]] | None = None
    ) -> list[ToolSpec]:
        """`specs()` with each tool's grounded arguments narrowed, for the call grammar only
        (tools/grounding.py): the repository as it is now, the files edited so far first.
        `barred`: per file, the lines an edit's old text may not hold."""
        repo = RepoView(ctx.root, protected=ctx.protected, barred=barred)
        edited = list(dict.fromkeys(record.path for record in reversed(list(ctx.edits))))
        specs = []
        for spec in self.specs():
            grounds = getattr(self._tools[spec.name], "grounds", None)
            if grounds:
                spec.grammar = grounded_schema(spec.parameters, grounds, repo, first=edited)
            specs.append(spec)
        return specs

    def call(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        started = time.monotonic()
        try:
            outcome = self._dispatch(call, ctx)
        except Exception as exc:  # checking the arguments failed (an MCP schema's broken regex)
            outcome = _failure(
                "tool_crash", f"tool crashed: checking {call.name} raised {type(exc).__name__}: {exc}"
            )
        outcome = _printable(outcome)
        outcome.seconds = round(time.monotonic() - started, 3)
        return outcome

    def _dispatch(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return _failure("unknown_tool", f"unknown tool {call.name!r}. Available tools: {known}")
        if call.parse_error:
            return _failure(
                "parse_error",
                f"could not parse the arguments of {call.name}: {call.parse_error}. "
                f"Send one JSON object. {self._usage[call.name]}",
            )
        problem = argument_problem(call.arguments)
        if problem:
            return _failure(
                "schema", f"invalid arguments for {call.name}: {problem}\n{self._usage[call.name]}"
            )
        errors = sorted(self._validators[call.name].iter_errors(call.arguments), key=lambda e: list(e.path))
        if errors:
            lines = [f"invalid arguments for {call.name}:"]
            lines += [f"- {_schema_message(e)}" for e in errors[:MAX_SCHEMA_ERRORS]]
            return _failure("schema", "\n".join([*lines, self._usage[call.name]]))
        echoed = _echoed_descriptions(call.arguments, tool.parameters)
        if echoed:
            return _failure(
                "schema",
                f"invalid arguments for {call.name}: "
                + "; ".join(f"{key} is the parameter's description, not a value" for key in echoed)
                + ". Put the real value there (a path from the repository context, text copied from "
                f"the file). {self._usage[call.name]}",
            )
        return self._run(tool, call, ctx)

    def _run(self, tool: SchemaTool, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        try:
            return ToolOutcome(result=tool.call(call.arguments, ctx))
        except NoChange as exc:
            outcome = _failure("tool_error", f"error: {exc}")
            outcome.result.data["unchanged"] = True
            return outcome
        except ToolError as exc:
            return _failure("tool_error", f"error: {exc}")
        except ValidationError as exc:  # a constraint the JSON schema cannot express
            return _failure("schema", f"invalid arguments for {call.name}: {exc}\n{self._usage[call.name]}")
        except Exception as exc:  # a tool bug must not end the run; the model and the report see it
            return _failure("tool_crash", f"tool crashed: {call.name} raised {type(exc).__name__}: {exc}")


def argument_problem(arguments: Any) -> str | None:
    """What makes arguments unusable before any schema is checked: nesting deeper than JSON
    arguments need (validators recurse), a lone surrogate (text that cannot be encoded) or a NUL
    character (no path, command or pattern holds one). Named with where it is, e.g. `edits.0.path`."""
    pending: list[tuple[str, Any, int]] = [("", arguments, 0)]
    while pending:
        where, value, depth = pending.pop()
        if depth > MAX_DEPTH:
            top = where.split(".", 1)[0]
            return f"{top}: nested more than {MAX_DEPTH} levels deep; send a flat JSON object"
        if isinstance(value, dict):
            items = list(value.items())
            for key, _ in items:
                if problem := _text_problem(str(key)):
                    return f"{where or 'arguments'}: a key holds {problem}"
        elif isinstance(value, list):
            items = [(str(i), v) for i, v in enumerate(value)]
        else:
            problem = _text_problem(value) if isinstance(value, str) else None
            if problem:
                return f"{where or 'arguments'}: {problem}"
            continue
        pending.extend((f"{where}.{key}" if where else key, v, depth + 1) for key, v in reversed(items))
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    if lone := _SURROGATE.search(text):
        return (
            f"a lone surrogate ({lone.group().encode('unicode_escape').decode()}), which is not text: "
            "send the characters themselves (an escaped pair \\ud83d\\ude00 is one character)"
        )
    if "\0" in text:
        return "a NUL character (\\u0000); paths, commands and text never hold one"
    return None


def _printable(outcome: ToolOutcome) -> ToolOutcome:
    """The outcome with lone surrogates (a file name git gave us as bytes) replaced: events, the
    trajectory and `--json` output must be able to encode it."""
    result = outcome.result
    if _SURROGATE.search(result.output) is None and not result.data:
        return outcome
    result.output = _SURROGATE.sub("\ufffd", result.output)
    result.data = no_surrogates(result.data)
    return outcome


def _echoed_descriptions(arguments: dict[str, Any], parameters: dict[str, Any]) -> list[str]:
    """String arguments that repeat their own schema description (a small model copies the schema
    it was shown: `"path": "file path relative to the repository root"`)."""
    properties = parameters.get("properties", {})
    echoed = []
    for key, value in arguments.items():
        description = str(properties.get(key, {}).get("description", "")).strip().rstrip(".").lower()
        if isinstance(value, str) and description and value.strip().rstrip(".").lower() == description:
            echoed.append(key)
    return echoed


# ---- edit tools by model family ------------------------------------------------------------------
# Which edit tools a model gets, by model family.
#
# Every model gets create_file (new files, and whole-file rewrites of small files). On top:
#
# - "qwen2.5" / "hermes" (Qwen2.5-Coder 0.5B-32B, Hermes-format tool callers): edit_file only.
#   Small models are most reliable with search/replace: they copy lines they have just read, while
#   diffs need correct hunk syntax and line numbers need arithmetic, both weak spots of 0.5-7B
#   models. One edit tool also keeps the prompt short and the choice trivial.
# - "qwen3-coder": edit_file and replace_lines. Its own agent scaffolds (Qwen Code and the
#   OpenHands-style editor it was tuned on) use old/new string replacement; it reads line numbers
#   reliably, and the hash-checked line replace saves re-quoting long blocks.
# - "glm" (GLM-4.5/4.6): edit_file and replace_lines, for the same reason: it is tuned for
#   Claude-Code-style agents whose Edit tool is exact string replacement.
# - "llama3": edit_file and replace_lines. Llama 3 often paraphrases when it quotes long blocks;
#   line ranges tied to the hash it read give it a way around quoting.
# - "mistral" (Devstral, Codestral): edit_file. Devstral was trained on OpenHands trajectories
#   whose editor is str_replace.
# - "gpt-oss" / "codex": apply_patch. These models were trained on the Codex harness, whose only
#   edit tool is the `*** Begin Patch` envelope; they write it fluently and badly imitate others.
# - "generic" (anything else): edit_file and apply_patch: search/replace is the safest default and
#   every capable model knows unified diffs.
#
# These are judgments from how each family was trained and from published harness results, not
# measurements of ours; tests/bench/bench_edits.py measures how forgiving each format is.

FAMILY_TOOLS: dict[str, tuple[Tool, ...]] = {
    "qwen2.5": (edit_file.TOOL,),
    "hermes": (edit_file.TOOL,),
    "qwen3-coder": (edit_file.TOOL, replace_lines.TOOL),
    "glm": (edit_file.TOOL, replace_lines.TOOL),
    "llama3": (edit_file.TOOL, replace_lines.TOOL),
    "mistral": (edit_file.TOOL,),
    "gpt-oss": (apply_patch.TOOL,),
    "codex": (apply_patch.TOOL,),
    "generic": (edit_file.TOOL, apply_patch.TOOL),
}
# The engine's tool-call format names (agent.formats.FORMAT_NAMES) name the same families.
ALIASES = {
    "qwen3_coder": "qwen3-coder",
    "glm45": "glm",
    "glm47": "glm",
    "mistral_v11": "mistral",
    "json": "generic",
    "qwen2.5-coder": "qwen2.5",
}


def family_of(name: str) -> str:
    """A family name, or an engine format name, as one of FAMILY_TOOLS ("generic" if unknown)."""
    name = name.strip().lower()
    name = ALIASES.get(name, name)
    return name if name in FAMILY_TOOLS else "generic"


def edit_tools_for(family: str) -> list[Tool]:
    """The edit tools for a model family or engine format name (unknown: the "generic" set)."""
    return [*FAMILY_TOOLS[family_of(family)], create_file.TOOL]


def tools_for(family: str, base: list[Tool]) -> list[Tool]:
    """`base` (e.g. default_tools()) with its edit tools replaced by the family's, in their place."""
    edits = edit_tools_for(family)
    at = next((i for i, tool in enumerate(base) if tool.kind == "edit"), len(base))
    rest = [tool for tool in base if tool.kind != "edit"]
    return [*rest[:at], *edits, *rest[at:]]


def default_tools() -> list[Tool]:
    """The nine tools, in the order the model sees them: look, change, check, finish."""
    return [
        read_file.TOOL,
        search.TOOL,
        find_symbol.TOOL,
        list_files.TOOL,
        edit_file.TOOL,
        create_file.TOOL,
        run_tests.TOOL,
        shell.TOOL,
        finish.TOOL,
    ]


def configured_tools(web_fetch: WebFetchConfig | None = None) -> list[Tool]:
    """The default tools, plus web_fetch (before finish) when the config enables it."""
    tools = default_tools()
    if web_fetch is not None and web_fetch.enabled:
        from tools.web_fetch import build  # imported only when enabled (httpx, HTML parsing)

        tools.insert(len(tools) - 1, build(web_fetch))
    return tools


def available_tools(web_fetch: WebFetchConfig | None = None) -> list[Tool]:
    """Every tool a run may offer (the configured ones plus each family's edit tools), for `agent tool`."""
    tools = configured_tools(web_fetch)
    known = {tool.name for tool in tools}
    for family in ("generic", "qwen3-coder"):
        for tool in edit_tools_for(family_of(family)):
            if tool.name not in known:
                tools.insert(len(tools) - 1, tool)
                known.add(tool.name)
    tools.insert(len(tools) - 1, write_code.TOOL)  # the repair phase's (agent/loop/repair.py)
    return tools


def run_tool_by_name(toolbox: Toolbox, name: str, args_json: str, ctx: ToolContext) -> ToolOutcome:
    """`agent tool NAME --args JSON`: the same parsing and validation as a model's call."""
    problem: str | None = None
    try:
        arguments = loads_bounded(args_json or "{}")
    except ValueError as exc:  # not JSON (json.JSONDecodeError), or nested too deep
        problem = f"not valid JSON: {exc}"
    else:
        if not isinstance(arguments, dict):
            problem = "the arguments must be a JSON object"
    if problem is not None:
        call = ToolCall(id="cli", name=name, raw_arguments=args_json, parse_error=problem)
    else:
        call = ToolCall(id="cli", name=name, arguments=arguments)
    return toolbox.call(call, ctx)
