"""MCP server tools as our tools: named `mcp__SERVER__TOOL`, with the server's JSON schema.

Names keep only `[A-Za-z0-9_-]` (valid in every tool-name grammar: OpenAI's, Hermes', our GBNF),
at most 64 characters; a name changed by that gets a short hash so two tools never collide, and
`McpTool.remote` keeps the server's own name for the call.

The schema shown to the model (titles dropped, like ours) is the one `Toolbox` validates against:
a call that violates it never reaches the server. Results are wrapped as untrusted data
(`prompts/mcp_result.md`).

Approval follows our tools' policy: a stdio server runs inside the sandbox like `shell`, so its
calls need no approval ("auto"); a tool on an HTTP server acts outside the sandbox, so it is asked
for unless it declares itself read-only. `approval = "ask"` asks for every call, "allow" for none.
A headless run has no one to ask: such a call is refused with a message naming the setting.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema

import prompts
from agent.mcp.runtime import McpServerError, ServerConnection
from agent.messages import ToolSpec
from sandbox.approval import ApprovalRequest, Approver
from sandbox.output import cap_text
from tools.base import ToolContext, ToolError, ToolKind, ToolResult
from tools.registry import clean_schema

NAME_LIMIT = 64
_INVALID = re.compile(r"[^A-Za-z0-9_-]")


def tool_name(server: str, tool: str, taken: set[str]) -> str:
    """`mcp__SERVER__TOOL`; a sanitised, shortened or clashing name gets a hash of the original."""
    raw = f"mcp__{server}__{tool}"
    name = _INVALID.sub("_", raw)
    clashes = {t.replace("-", "_") for t in taken}  # grammar rule names treat "-" and "_" alike
    if name == raw and len(name) <= NAME_LIMIT and name.replace("-", "_") not in clashes:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
    return f"{name[: NAME_LIMIT - 7]}_{digest}"


def result_text(result: Any) -> str:
    """The text of a `CallToolResult`: text blocks, resource text, and placeholders for binary parts."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and hasattr(block.resource, "text"):
            parts.append(block.resource.text)
        elif kind == "resource_link":
            parts.append(f"[resource link: {block.uri}]")
        else:
            mime = getattr(block, "mime_type", "") or getattr(
                getattr(block, "resource", None), "mime_type", ""
            )
            parts.append(f"[{kind or 'content'} block{f' ({mime})' if mime else ''} not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts) or "(no output)"


class McpApproval:
    """The approval decision for MCP calls; see the module docstring."""

    def __init__(self, approver: Approver | None = None) -> None:
        self.approver = approver
        self.always: set[str] = set()

    @staticmethod
    def reason(tool: McpTool) -> str | None:
        setting = tool.server.config.approval
        if setting == "allow":
            return None
        if setting == "ask":
            return f"approval = \"ask\" for MCP server '{tool.server.name}'"
        if tool.server.config.transport == "stdio" or tool.read_only:
            return None
        return f"a tool on the HTTP MCP server '{tool.server.name}' acts outside the sandbox"

    def check(self, tool: McpTool, arguments: dict[str, Any], ctx: ToolContext) -> None:
        reason = self.reason(tool)
        if reason is None or tool.name in self.always:
            return
        if self.approver is None:
            raise ToolError(
                f"{tool.name} needs approval ({reason}) and this run has nobody to ask; the user can set "
                f'approval = "allow" under [mcp_servers.{tool.server.name}] to allow it. Do without it.'
            )
        request = ApprovalRequest(
            tool=tool.name, command=f"{tool.name} {json.dumps(arguments)}", cwd=str(ctx.root), reason=reason
        )
        decision = self.approver(request)
        if decision == "deny":
            raise ToolError(f"the user denied this call of {tool.name}; do without it")
        if decision == "approve_always":
            self.always.add(tool.name)


class McpTool:
    """One server tool, a `SchemaTool`: the Toolbox validates, this sends the call and wraps the result."""

    def __init__(
        self,
        name: str,
        server: ServerConnection,
        remote: Any,  # mcp_types.Tool
        approval: McpApproval,
        notify: Callable[[str], None],
    ) -> None:
        self.name = name
        self.server = server
        self.remote = remote.name
        self.description = remote.description or remote.title or f"{remote.name} (MCP server {server.name})"
        self.parameters: dict[str, Any] = clean_schema(dict(remote.input_schema))
        self.parameters.setdefault("properties", {})
        annotations = remote.annotations
        self.read_only = bool(annotations is not None and annotations.read_only_hint)
        self.kind: ToolKind = "read" if self.read_only else "run"  # anything else may change files
        self.approval = approval
        self.notify = notify

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        self.approval.check(self, arguments, ctx)
        already_failed = self.server.failure is not None
        try:
            result = self.server.call_tool(self.remote, arguments)
        except McpServerError as exc:
            if self.server.failure is not None and not already_failed:
                self.notify(exc.with_note("the run goes on without its tools"))
            raise ToolError(exc.with_note("do without this tool")) from exc
        text = cap_text(result_text(result), ctx.output_limit)
        output = prompts.render("mcp_result", tool=self.name, server=self.server.name, text=text)
        data = {"server": self.server.name, "tool": self.remote, "is_error": bool(result.is_error)}
        return ToolResult(output=output, ok=not result.is_error, data=data)


def schema_problem(schema: Any) -> str | None:
    """Why a server's input schema cannot be offered to the model, or None."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return "its input schema is not a JSON object schema"
    try:
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(
            schema
        )
    except jsonschema.SchemaError as exc:
        return f"its input schema is invalid: {exc.message}"
    return None


def select_tools(
    tools: list[McpTool], count: Callable[[ToolSpec], int], budget: int, max_each: int
) -> tuple[list[McpTool], list[str]]:
    """Tools whose schemas fit the budget, in order, and a notice for every tool left out and why."""
    kept: list[McpTool] = []
    notices: list[str] = []
    used = 0
    for tool in tools:
        cost = count(tool.spec())
        if cost > max_each:
            notices.append(
                f"{tool.name} left out: its schema is {cost} tokens, over the {max_each}-token limit for one "
                "tool (mcp_tool_max_tokens; capped at a quarter of the model's context)"
            )
        elif used + cost > budget:
            notices.append(
                f"{tool.name} left out: MCP tool schemas would pass mcp_tools_budget ({budget} tokens; "
                f"{used} used, this one {cost}); raise it or list enabled_tools for the server"
            )
        else:
            kept.append(tool)
            used += cost
    return kept, notices
