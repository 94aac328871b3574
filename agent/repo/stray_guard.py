"""A sandbox layer that sweeps the worktree after each command (agent/repo/strays.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agent.repo.host_git import HostGit, HostGitError
from agent.repo.strays import remove_strays
from sandbox.approval import ToolAwareSandbox
from sandbox.base import CommandResult, Sandbox


def _ignore(_message: str) -> None:
    return None


class StrayGuard:
    """After each command, nested repositories and special files are removed from the worktree;
    the command's output says so (the model reads it) and `notify` hears of it (the user)."""

    def __init__(self, inner: Sandbox, git: HostGit, notify: Callable[[str], None] = _ignore) -> None:
        self.inner = inner
        self.git = git
        self.notify = notify

    @property
    def mode(self) -> str:
        return self.inner.mode

    def for_tool(self, tool: str) -> StrayGuard:
        inner = self.inner.for_tool(tool) if isinstance(self.inner, ToolAwareSandbox) else self.inner
        return StrayGuard(inner, self.git, self.notify)

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        result = self.inner.run(command, cwd, timeout, env)
        try:
            removed = remove_strays(self.git).messages
        except HostGitError as exc:
            removed = [f"could not sweep the worktree: {exc}"]
        for message in removed:
            self.notify(message)
        if not removed:
            return result
        notes = "".join(f"[{message}]\n" for message in removed)
        return result.model_copy(update={"output": f"{result.output.rstrip()}\n{notes}"})
