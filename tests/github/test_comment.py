"""`python -m agent.github.comment`: the report of a run that never started (a usage error) is still
posted, on the issue, with the error; a run without events says so."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.github_fake import FakeGitHub, GitHubServer
from tests.repos import median_repo

TOKEN = "ghs_fakeCOMMENTtoken1234567890abcdef"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(owner="octo", name="stats", bare=tmp_path / "unused.git", token=TOKEN)
    fake.add_issue(7, "median is wrong", "median([1, 2, 3, 4]) returns 3")
    with GitHubServer(fake) as running:
        yield running


def comment(
    events: Path, exit_code: int, github: FakeGitHub, summary: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": github.full_name,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(summary.with_name("outputs")),
    }
    args = ["--events", str(events), "--exit-code", str(exit_code), "--issue", "7"]
    command = [sys.executable, "-m", "agent.github.comment", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_a_run_that_never_started_is_reported_on_the_issue(tmp_path: Path, github: FakeGitHub) -> None:
    repo = median_repo(tmp_path / "repo")
    fix = [sys.executable, "-m", "agent.cli", "fix", "--json", "--headless", "--max-minutes", "-1", "x"]
    run = subprocess.run(fix, cwd=repo, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 2, run.stderr
    events = tmp_path / "events.jsonl"
    events.write_text(run.stdout)

    done = comment(events, run.returncode, github, tmp_path / "summary.md")
    assert done.returncode == 0, done.stderr
    assert len(github.comments) == 1 and github.comments[0]["issue_url"].endswith("/issues/7")
    body = github.comments[0]["body"]
    assert (
        "local-agent (exit code 2)" in body
        and "**Error**:" in body
        and "max_minutes = -1.0: must be above 0" in body
    )
    assert body.count("must be above 0") == 1 and "**Run**" not in body  # no engine, model or sandbox to name
    outputs = (tmp_path / "outputs").read_text().splitlines()
    assert "status=error" in outputs and f"comment-url={github.comments[0]['html_url']}" in outputs


def test_no_events_at_all_still_leaves_a_comment(tmp_path: Path, github: FakeGitHub) -> None:
    done = comment(tmp_path / "missing.jsonl", 3, github, tmp_path / "summary.md")
    assert done.returncode == 0, done.stderr
    assert "The agent wrote no report" in github.comments[0]["body"]
    assert "The agent wrote no report" in (tmp_path / "summary.md").read_text()
