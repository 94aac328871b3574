"""`agent mcp serve`: our repository-context packer and our sandboxed tools as an MCP server (stdio).

Other agents and editors get `repo_context` (the project's AGENTS.md block plus the ranked pack of the
files most related to a task, within a token budget) and our tools (`read_file`, `search`,
`list_files`, `run_tests`, `shell`, `edit_file`, `create_file`) with the same schemas, validation and
sandbox as `agent fix` uses. The tools act on the repository given with `--repo`, in place: the
calling agent owns its changes. `--read-only` serves only the tools that change nothing.

The tools served are agent/build.py's `served_tools` (`repo_context` is agent/run/repo_context.py);
this module is the MCP side: one call at a time on one context, through the SDK's low-level server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent.messages import ToolCall
from sandbox.base import Sandbox
from tools.base import ToolContext
from tools.registry import Toolbox

SERVER_NAME = "local-agent"


class ToolService:
    """The synchronous half: our Toolbox on one context, one call at a time."""

    def __init__(self, root: Path, sandbox: Sandbox, toolbox: Toolbox, test_command: str | None) -> None:
        self.toolbox = toolbox
        self.ctx = ToolContext(root=root, sandbox=sandbox, test_command=test_command)
        self._lock = threading.Lock()
        self._calls = 0

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
        with self._lock:
            self._calls += 1
            outcome = self.toolbox.call(
                ToolCall(id=f"mcp_{self._calls}", name=name, arguments=arguments), self.ctx
            )
        ok = outcome.error is None and outcome.result.ok
        return outcome.result.output, ok, outcome.result.data


def build_server(service: ToolService) -> Any:
    """An SDK low-level `Server` listing our tool specs and running calls through `service`."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        specs = service.toolbox.specs()
        tools = [types.Tool(name=s.name, description=s.description, input_schema=s.parameters) for s in specs]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        output, ok, data = await anyio.to_thread.run_sync(service.call, params.name, arguments)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=output)],
            structured_content=data or None,
            is_error=not ok,
        )

    return Server(SERVER_NAME, version="0.1.0", on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(service: ToolService) -> None:
    """Serve on stdin/stdout until the client closes the connection."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(service)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)
