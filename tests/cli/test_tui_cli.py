"""How the command line reaches the TUI (and when it does not)."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli.tui import wants_tui
from tests.commands import run_agent
from tests.repos import median_repo


def test_bare_agent_without_a_terminal_prints_help(tmp_path: Path) -> None:
    result = run_agent([], cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: agent" in result.stdout and "tui" in result.stdout


def test_resume_of_an_unknown_session_names_the_fix(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    result = run_agent(["tui", "--resume", "20990101"], cwd=repo)
    assert result.returncode == 2
    assert "0 sessions match '20990101'" in result.stderr and "agent sessions" in result.stderr


def test_tui_outside_a_repository_names_the_fix(tmp_path: Path) -> None:
    result = run_agent(["tui"], cwd=tmp_path)
    assert result.returncode == 2 and "not inside a git repository" in result.stderr


def test_which_commands_open_the_tui() -> None:
    assert wants_tui(argparse.Namespace(command="tui"))
    assert wants_tui(argparse.Namespace(command="fix", tui=True))
    assert not wants_tui(argparse.Namespace(command="fix", tui=False))
    assert not wants_tui(argparse.Namespace(command="sessions"))
