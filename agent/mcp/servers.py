"""The configured MCP servers of one run: started together, their tools offered, stopped at the end.

Each stdio server starts through `wrap` (agent/build.py `server_wrapper`): inside the run's
bubblewrap sandbox, or unwrapped only under `--sandbox none`. HTTP servers are not our processes.

A server that fails to start is reported (naming it, with the reason) and left out; the others and
the run go on. Schemas that are invalid or too large for the model's context are reported too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from agent.mcp.config import McpServerConfig
from agent.mcp.runtime import CommandWrapper, LoopThread, McpServerError, ServerConnection
from agent.mcp.tools import McpApproval, McpTool, schema_problem, select_tools, tool_name
from agent.messages import ToolSpec
from sandbox.approval import Approver

Notify = Callable[[str], None]


class McpServers:
    def __init__(
        self,
        configs: Mapping[str, McpServerConfig],
        root: Path,
        wrap: CommandWrapper,
        approver: Approver | None = None,
        notify: Notify = lambda message: None,
    ) -> None:
        self.configs = {name: c for name, c in configs.items() if c.enabled}
        self.root = root
        self.wrap = wrap
        self.approval = McpApproval(approver)
        self.notify = notify
        self.connections: list[ServerConnection] = []
        self.tools: list[McpTool] = []
        self._loop: LoopThread | None = None

    def start(self, count: Callable[[ToolSpec], int], budget: int, max_each: int) -> list[McpTool]:
        """Start every enabled server at once; returns the tools that fit `budget` tokens of schemas."""
        if not self.configs:
            return []
        self._loop = LoopThread()
        connections = [
            ServerConnection(name, config, self.root, self.wrap, self._loop)
            for name, config in self.configs.items()
        ]
        with ThreadPoolExecutor(max_workers=len(connections)) as pool:
            started = list(pool.map(self._start_one, connections))
        self.connections = [c for c, ok in zip(connections, started, strict=True) if ok]
        self.tools, notices = select_tools(self._candidates(), count, budget, max_each)
        for notice in notices:
            self.notify(notice)
        return self.tools

    def _start_one(self, connection: ServerConnection) -> bool:
        try:
            connection.start()
        except McpServerError as exc:
            self.notify(exc.with_note("the run goes on without it"))
            return False
        return True

    def _candidates(self) -> list[McpTool]:
        tools: list[McpTool] = []
        taken: set[str] = set()
        for connection in self.connections:
            wanted = connection.config.enabled_tools
            for remote in connection.tools:
                if wanted is not None and remote.name not in wanted:
                    continue
                problem = schema_problem(remote.input_schema)
                name = tool_name(connection.name, remote.name, taken)
                if problem:
                    self.notify(f"{name} (MCP server '{connection.name}') left out: {problem}")
                    continue
                taken.add(name)
                tools.append(McpTool(name, connection, remote, self.approval, self.notify))
        return tools

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> McpServers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
