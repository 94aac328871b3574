"""The approval hook: asking a person before a command runs, when the sandbox policy says so.

With `approval = "always"` every command needs a person's yes: the layer builds an
`ApprovalRequest` for it and an `Approver` answers. The TUI passes one that shows a modal, `agent fix`
in a terminal one that asks there; a headless run has nobody to ask, so it passes none and every
command is refused with a message the model and the user read (never a blocking prompt, never run
silently). `ApprovalSandbox` is that layer: it wraps any `Sandbox`, so approval is added around a
backend, not built into one (agent/build.py composes it).
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
ALWAYS_REASON = "every command needs your approval (approval = always)"
HEADLESS_REFUSAL = (
    "this command needs a person's approval (approval = always) and the run is headless: it was not "
    "run. Do without it. (User: run in a terminal without --headless, or in the TUI, to approve "
    'commands, or set approval = "never" under [sandbox] in your config.)'
)


class ApprovalSandbox:
    """An approval layer around a sandbox: asks `approver` before each command.

    "approve" runs it once, "approve_always" runs it and every later identical command (for the
    life of this layer), "deny" returns a failed result the model reads; nothing raises. Without
    an approver (a headless run) every command is refused with HEADLESS_REFUSAL: nobody can say
    yes, and a command that needs a yes never runs without one.
    """

    def __init__(
        self,
        inner: Sandbox,
        approver: Approver | None,
        asker: str = "",
        reason: str = ALWAYS_REASON,
        tool: str = "command",
        remembered: set[str] | None = None,
    ) -> None:
        self.inner = inner
        self.approver = approver
        self.asker = asker  # who answers, for the mode: "asked in the TUI", "asked in the terminal"
        self.reason = reason
        self.tool = tool
        self._always = remembered if remembered is not None else set()

    @property
    def mode(self) -> str:
        if self.approver is None:
            return f"{self.inner.mode}, approval always: every command refused (headless run)"
        return f"{self.inner.mode}, approval always ({self.asker or 'asked'})"

    def for_tool(self, tool: str) -> ApprovalSandbox:
        return ApprovalSandbox(self.inner, self.approver, self.asker, self.reason, tool, self._always)

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        shown = command if isinstance(command, str) else shlex.join(command)
        if self.approver is None:
            return CommandResult(command=shown, exit_code=DENIED_EXIT_CODE, output=f"[{HEADLESS_REFUSAL}]\n")
        if shown not in self._always:
            request = ApprovalRequest(tool=self.tool, command=shown, cwd=str(cwd), reason=self.reason)
            decision = self.approver(request)
            if decision == "deny":
                message = f"[denied: the user did not approve this command; {self.reason}]\n"
                return CommandResult(command=shown, exit_code=DENIED_EXIT_CODE, output=message)
            if decision == "approve_always":
                self._always.add(shown)
        return self.inner.run(command, cwd, timeout, env)
