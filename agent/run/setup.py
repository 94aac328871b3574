"""What a run adds to the loop from the repository and the config: AGENTS.md and MCP servers.

`prepare_run` discovers the instruction files, fits their block into the context budget, takes the
test command they name (when the user gave none), starts the configured MCP servers and builds the
toolset: our tools plus the servers' tools, wrapped so nested AGENTS.md files reach the model when
it works under their directories. Everything worth knowing becomes a notice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, user_config_dir
from agent.engines.base import Engine
from agent.events import Notice, RunEvent
from agent.mcp.runtime import CommandWrapper
from agent.mcp.servers import McpServers
from agent.messages import Message, ToolSpec
from agent.run.instruction_prompt import InstructionsBlock, NestedInstructions, build_block
from agent.run.instructions import ProjectInstructions, discover
from sandbox.approval import Approver
from tools.base import SchemaTool, Tool
from tools.registry import Toolbox, default_tools

Emit = Callable[[RunEvent], None]


@dataclass
class RunSetup:
    instructions: ProjectInstructions
    block: InstructionsBlock
    test_command: str | None
    toolset: Any  # a loop Toolset
    servers: McpServers
    notices: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.servers.close()


def spec_counter(engine: Engine) -> Callable[[ToolSpec], int]:
    probe = [Message.user("x")]
    base = engine.count_tokens(probe, [])
    return lambda spec: engine.count_tokens(probe, [spec]) - base


def prepare_run(
    root: Path,
    config: AgentConfig,
    engine: Engine,
    emit: Emit,
    budget: int,
    wrap: CommandWrapper,
    approver: Approver | None = None,
    tools: Sequence[Tool | SchemaTool] | None = None,
) -> RunSetup:
    """Instructions and tools for a run in the worktree `root`; `budget` is the first prompt's context.
    `wrap` starts each MCP stdio server inside the run's sandbox (agent/build.py `server_wrapper`)."""
    notices: list[str] = []

    def notify(message: str, level: str = "warning") -> None:
        notices.append(message)
        emit(Notice(level="warning" if level == "warning" else "info", message=message))

    def count(text: str) -> int:
        return engine.count_tokens([Message.user(text)], [])

    instructions = discover(root, user_config_dir())
    instructions_budget = max(min(config.context.instructions_budget, budget), 0)
    block = build_block(instructions, instructions_budget, count)
    for notice in block.notices:
        notify(notice)
    found = instructions.test_command
    test_command = config.loop.test_command or found
    if found and not config.loop.test_command:
        notify(
            f"test command from {instructions.name}: `{found}` (run_tests and the verify step run it in the "
            "sandbox; --test-cmd or test_command in the config override it)",
            "info",
        )
    servers = McpServers(config.mcp.servers, root, wrap, approver, notify)
    schema_budget = min(config.mcp.tools_budget, engine.context_length // 4)
    mcp_tools = servers.start(
        spec_counter(engine), schema_budget, min(config.mcp.tool_max_tokens, schema_budget)
    )
    toolset: Any = Toolbox([*(default_tools() if tools is None else tools), *mcp_tools])
    if instructions.nested:
        toolset = NestedInstructions(toolset, instructions, instructions_budget, count, notify)
    return RunSetup(instructions, block, test_command, toolset, servers, notices)
