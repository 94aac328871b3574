"""The approval hook: asking a person before a command runs, when the sandbox policy says so.

The policy layer builds an `ApprovalRequest` for each command that needs a person's yes; an
`Approver` answers it. The TUI passes one that shows a prompt; headless runs pass none, and the
policy alone decides (never a blocking prompt). `ApprovalSandbox` is that layer: it wraps any
`Sandbox`, so approval is added around a backend, not built into one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from sandbox.base import CommandResult, Sandbox

Decision = Literal["approve", "approve_always", "deny"]


class ApprovalRequest(BaseModel):
    """A command waiting for approval: which tool asked, the exact command, and why it needs one."""

    tool: str  # "shell", "run_tests", an MCP tool...
    command: str
    cwd: str
    reason: str  # e.g. "network access requested", "writes outside the worktree"


class Approver(Protocol):
    def __call__(self, request: ApprovalRequest) -> Decision: ...


@runtime_checkable
class ToolAwareSandbox(Protocol):
    """A sandbox that can say which tool a command comes from (the approval layer shows it)."""

    def for_tool(self, tool: str) -> Sandbox: ...


DENIED_EXIT_CODE = 126


class ApprovalSandbox:
    """An approval layer around a sandbox: asks `approver` before each command.

    "approve" runs it once, "approve_always" runs it and every later identical command (for the
    life of this layer), "deny" returns a failed result the model reads; nothing raises. Without
    an approver (headless runs) it never asks: commands follow the sandbox policy.
    """

    def __init__(
        self,
        inner: Sandbox,
        approver: Approver | None,
        reason: str = "every command needs your approval (approval = always)",
        tool: str = "command",
        remembered: set[str] | None = None,
    ) -> None:
        self.inner = inner
        self.approver = approver
        self.reason = reason
        self.tool = tool
        self._always = remembered if remembered is not None else set()

    @property
    def mode(self) -> str:
        return f"{self.inner.mode}, approval {'always' if self.approver else 'never (headless)'}"

    def for_tool(self, tool: str) -> ApprovalSandbox:
        return ApprovalSandbox(self.inner, self.approver, self.reason, tool, self._always)

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        shown = command if isinstance(command, str) else shlex.join(command)
        if self.approver is not None and shown not in self._always:
            request = ApprovalRequest(tool=self.tool, command=shown, cwd=str(cwd), reason=self.reason)
            decision = self.approver(request)
            if decision == "deny":
                message = f"[denied: the user did not approve this command; {self.reason}]\n"
                return CommandResult(command=shown, exit_code=DENIED_EXIT_CODE, output=message)
            if decision == "approve_always":
                self._always.add(shown)
        return self.inner.run(command, cwd, timeout, env)
