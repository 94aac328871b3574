"""What one run executes through, as agent/build.py (the composition root) makes it."""

from __future__ import annotations

from dataclasses import dataclass

from agent.mcp.runtime import CommandWrapper
from agent.repo.python_env import Candidate
from sandbox.approval import Approver
from sandbox.base import Sandbox


@dataclass(frozen=True)
class RunSandboxes:
    """Everything one run executes through: the model's commands, the setup step, MCP servers."""

    commands: Sandbox
    setup: Sandbox | None  # runs `setup_command` before the first step; None without one
    servers: CommandWrapper  # starts an MCP stdio server inside the sandbox
    approver: Approver | None = None  # who says yes (MCP tools that ask too); None: headless
    # finds the tests' interpreter (agent/repo/python_env.py): the commands' sandbox without approval
    # (the probe is ours, not the model's); None: the commands' own
    probe: Sandbox | None = None
    pythons: tuple[Candidate, ...] = ()  # the interpreters to try, in order; empty: PATH's, then ours

    @property
    def setup_mode(self) -> str | None:
        """What the setup step runs in, network included (for the banner and the notices)."""
        return self.setup.mode if self.setup is not None else None
