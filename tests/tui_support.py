"""Shared pieces of the TUI tests: a real repo, a scripted (optionally paced) engine, Pilot helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import git
from textual.pilot import Pilot

from agent.cli.tui import sandbox_factory
from agent.config import AgentConfig
from agent.engines.base import Engine
from agent.engines.paced import PacedEngine
from agent.tui.app import AgentApp
from agent.tui.bridge import TuiSetup
from agent.tui.screens import ApprovalScreen
from sandbox.config import SandboxConfig
from tests.scripts import scripted as scripted  # the TUI tests' engine


def make_app(
    repo: Path,
    engine: Engine,
    approval: Literal["never", "always"] = "never",
    **setup: object,
) -> AgentApp:
    """The app as `agent tui` builds it: the sandboxes from agent/build.py (bubblewrap)."""
    config = AgentConfig(max_steps=12, sandbox=SandboxConfig(approval=approval))
    checkout = git.Repo(repo)
    return AgentApp(
        TuiSetup(
            repo=checkout,
            config=config,
            build_engine=lambda say: engine,
            build_sandboxes=sandbox_factory(config, checkout),
            **setup,  # type: ignore[arg-type]
        )
    )


async def answer_approvals(
    pilot: Pilot[None], app: AgentApp, key_for: Callable[[str], str], timeout: float = 60.0
) -> list[str]:
    """Answer every approval modal with the key `key_for(command)` gives, until the run's report;
    returns the commands asked about, in order."""
    asked: list[str] = []
    deadline = time.monotonic() + timeout
    while app.last_report is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no report after {timeout}s; asked so far: {asked}")
        asking = app.screen
        if isinstance(asking, ApprovalScreen):
            asked.append(asking.request.command)
            await pilot.press(key_for(asking.request.command))
            await wait_for(pilot, _dismissed(app, asking))
        await pilot.pause(0.05)
    return asked


def _dismissed(app: AgentApp, screen: object) -> Callable[[], bool]:
    return lambda: app.screen is not screen


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
