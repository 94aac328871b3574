"""Screens of the TUI at 80x24 and 160x48 (pytest-textual-snapshot; update with --snapshot-update).

The recorded session `tests/data/tui_session.jsonl` is a real scripted run's trajectory with its
timings pinned, so the screens do not change from run to run.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agent.tui.app import AgentApp
from agent.tui.prompt import PromptInput
from agent.tui.screens import ApprovalScreen
from sandbox.approval import ApprovalRequest
from tests.paths import DATA
from tests.repos import median_repo
from tests.tui_support import make_app, scripted

SESSION = DATA / "tui_session.jsonl"
SIZES = [(80, 24), (160, 48)]


def app_for(tmp_path: Path, replay: bool = True) -> AgentApp:
    repo = median_repo(tmp_path / "repo")
    if not replay:
        return make_app(repo, scripted())
    session = tmp_path / "20250101-120000-abc123.jsonl"
    shutil.copy(SESSION, session)
    return make_app(repo, scripted(), resume=session)


async def settle(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, AgentApp)
    deadline = time.monotonic() + 10
    while app.engine is None and time.monotonic() < deadline:
        await pilot.pause(0.02)
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_welcome(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path, replay=False), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_conversation(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_changes(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def changes(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=changes)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_approval(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def ask(pilot: Pilot[None]) -> None:
        await settle(pilot)
        request = ApprovalRequest(
            tool="shell",
            command="pip install requests",
            cwd="/repo/.git/.agent/worktrees/20250101-120000-abc123",
            reason="network access requested",
        )
        pilot.app.push_screen(ApprovalScreen(request))
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=ask)


def test_help(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), press=["escape", "question_mark"], run_before=settle)


def test_light_theme(snap_compare, tmp_path: Path) -> None:
    async def light(pilot: Pilot[None]) -> None:
        await settle(pilot)
        pilot.app.theme = "textual-light"
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), terminal_size=(80, 24), run_before=light)
