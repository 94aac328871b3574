"""The approval hook: asking a person before a command runs, when the sandbox policy says so.

The policy layer builds an `ApprovalRequest` for each command that needs a person's yes; an
`Approver` answers it. The TUI passes one that shows a prompt; headless runs pass none, and the
policy alone decides (never a blocking prompt).
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel

Decision = Literal["approve", "approve_always", "deny"]


class ApprovalRequest(BaseModel):
    """A command waiting for approval: which tool asked, the exact command, and why it needs one."""

    tool: str  # "shell", "run_tests", an MCP tool...
    command: str
    cwd: str
    reason: str  # e.g. "network access requested", "writes outside the worktree"


class Approver(Protocol):
    def __call__(self, request: ApprovalRequest) -> Decision: ...
