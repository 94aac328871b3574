"""Asking at the terminal: the `Approver` of `agent fix` run by a person (not headless).

With `approval = "always"` each command the model asks for is shown with the tool, the directory
and the reason, and waits for `y` (once), `a` (always this exact command) or `n` (deny). An empty
answer, end of input or anything else denies: a command never runs on a guess.
"""

from __future__ import annotations

import sys
from typing import TextIO

from sandbox.approval import ApprovalRequest, Decision

ANSWERS: dict[str, Decision] = {
    "y": "approve",
    "yes": "approve",
    "a": "approve_always",
    "always": "approve_always",
}


class TerminalApprover:
    def __init__(self, stdin: TextIO = sys.stdin, out: TextIO = sys.stderr) -> None:
        self.stdin = stdin
        self.out = out

    def __call__(self, request: ApprovalRequest) -> Decision:
        self.out.write(
            f"\nagent: the model wants to run a command ({request.reason})\n"
            f"  tool    {request.tool}\n  command {request.command}\n  in      {request.cwd}\n"
            "run it? [y] once, [a] always this command, [n] deny: "
        )
        self.out.flush()
        line = self.stdin.readline()
        return ANSWERS.get(line.strip().lower(), "deny")
