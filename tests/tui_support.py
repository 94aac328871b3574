"""Shared pieces of the TUI tests: a real repo, a scripted (optionally paced) engine, Pilot helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import git
from textual.pilot import Pilot

from agent.config import AgentConfig
from agent.engine import Engine
from agent.paced import PacedEngine
from agent.tui.app import AgentApp
from agent.tui.bridge import TuiSetup
from sandbox.approval import ApprovalRequest, Approver
from sandbox.base import CommandResult, Sandbox
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.scripts import scripted as scripted  # the TUI tests' engine

DENIED_EXIT_CODE = 126


class AskingSandbox:
    """Stands in for the sandbox policy layer (not on main yet), through its documented interface:
    commands matching `needs` are put to the `Approver`; a denied one does not run."""

    def __init__(self, inner: Sandbox, approver: Approver, needs: Callable[[str], bool]) -> None:
        self.inner = inner
        self.approver = approver
        self.needs = needs

    @property
    def mode(self) -> str:
        return self.inner.mode

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        shown = command if isinstance(command, str) else " ".join(command)
        if self.needs(shown):
            request = ApprovalRequest(tool="shell", command=shown, cwd=str(cwd), reason="writes a file")
            if self.approver(request) == "deny":
                return CommandResult(command=shown, exit_code=DENIED_EXIT_CODE, output="denied by the user")
        return self.inner.run(command, cwd, timeout, env)


def make_app(
    repo: Path,
    engine: Engine,
    needs_approval: Callable[[str], bool] = lambda command: False,
    **setup: object,
) -> AgentApp:
    config = AgentConfig(max_steps=12)
    return AgentApp(
        TuiSetup(
            repo=git.Repo(repo),
            config=config,
            build_engine=lambda say: engine,
            build_sandbox=lambda approver: AskingSandbox(SubprocessSandbox(), approver, needs_approval),
            **setup,  # type: ignore[arg-type]
        )
    )


def paced(engine: Engine, tokens_per_second: float) -> PacedEngine:
    return PacedEngine(engine, tokens_per_second)


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Press one key per character, as a person would (letters, digits and spaces)."""
    for char in text:
        await pilot.press("space" if char == " " else char)


async def wait_for(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(0.05)
