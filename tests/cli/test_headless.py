"""Headless `agent fix`: task sources, automatic headless mode, the JSON event stream, exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.headless import TaskInput, UsageError, headless_mode, read_task
from agent.events import RUN_EVENT_ADAPTER, RunFinished, RunStarted, ToolFinished
from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo, snapshot

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def no_fetch(number: int) -> tuple[str, str]:
    raise AssertionError("no issue should be fetched")


def test_headless_is_automatic_without_a_terminal_or_in_ci() -> None:
    assert headless_mode(False, io.StringIO(), {}) is True  # stdin is a pipe or a file
    assert headless_mode(False, None, {}) is True
    assert headless_mode(False, Terminal(), {"CI": "true"}) is True
    assert headless_mode(False, Terminal(), {}) is False
    assert headless_mode(True, Terminal(), {}) is True


def test_task_sources(tmp_path: Path) -> None:
    issue = tmp_path / "issue.md"
    issue.write_text("  median is wrong\n\nfor even lengths\n")
    assert read_task(None, issue, None, None, no_fetch) == TaskInput("median is wrong\n\nfor even lengths")
    assert read_task("-", None, None, io.StringIO("from stdin\n"), no_fetch).text == "from stdin"
    assert read_task("in words", None, None, None, no_fetch).text == "in words"
    fetched = read_task(None, None, 12, None, lambda n: (f"Issue {n}", "the body"))
    assert fetched == TaskInput("Issue 12\n\nthe body", issue=12)


@pytest.mark.parametrize(
    ("text", "file", "issue", "message"),
    [
        (None, None, None, "exactly one way"),
        ("words", None, 3, "exactly one way"),
        ("-", None, None, "stdin is empty"),
        (None, Path("/nonexistent/issue.md"), None, "cannot read the issue file"),
    ],
)
def test_task_source_errors(text: str | None, file: Path | None, issue: int | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_task(text, file, issue, io.StringIO(""), no_fetch)


def run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_json_stream_from_stdin_is_typed_events_with_the_report_last(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    result = run(["fix", "-", "--script", str(SCRIPT), "--json"], repo, stdin="median of [1, 2, 3, 4] is 3\n")
    assert result.returncode == 0, result.stderr
    events = [RUN_EVENT_ADAPTER.validate_json(line) for line in result.stdout.splitlines()]
    assert isinstance(events[0], RunStarted) and events[0].task == "median of [1, 2, 3, 4] is 3"
    assert isinstance(events[-1], RunFinished) and events[-1].report["status"] == "resolved"
    assert sum(isinstance(e, RunFinished) for e in events) == 1
    assert not any(e.kind == "model_delta" for e in events)
    assert any(isinstance(e, ToolFinished) and e.name == "edit_file" and e.ok for e in events)
    assert "agent: scripted / median_fix_script.json" in result.stderr  # the live log stays on stderr
    assert snapshot(repo) == before


def test_issue_file_and_human_summary(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    issue = tmp_path / "issue.md"
    issue.write_text("median of an even-length list is wrong\n")
    result = run(["fix", "--issue-file", str(issue), "--script", str(SCRIPT), "--headless"], repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("== RESOLVED")
    assert "branch: agent/median-of-an-even-length-list-is-wrong" in result.stdout


def test_exit_codes_for_usage_and_unresolved_runs(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    both = run(["fix", "words", "--issue-file", "x.md", "--script", str(SCRIPT)], repo)
    assert both.returncode == 2 and "exactly one way" in both.stderr
    no_pr_target = run(["fix", "--github-issue", "3", "--script", str(SCRIPT)], repo)
    assert no_pr_target.returncode == 2 and "--github-repo" in no_pr_target.stderr
    idle = tmp_path / "idle.json"
    idle.write_text('[{"text": "1. think"}]')
    unresolved = run(["fix", "median is wrong", "--script", str(idle), "--json", "--max-steps", "2"], repo)
    assert unresolved.returncode == 1
    last = RUN_EVENT_ADAPTER.validate_json(unresolved.stdout.splitlines()[-1])
    assert isinstance(last, RunFinished) and last.report["status"] == "no_change"
