"""The reusable action (action.yml at the repository root), its `run:` steps executed in order as a
runner would (tests/github/action_runner.py), against the loopback fake of GitHub's REST API, with
the agent on the scripted engine (`--script` through the action's `args` input): no model, no `act`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.github.action_runner import ActionRun, load_action
from tests.github_fake import FakeGitHub, GitHubServer
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git, median_repo

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
TOKEN = "ghs_fakeACTIONtoken1234567890abcdef"
VENV = Path(sys.executable).parent.parent  # the environment the tests run in holds the agent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo = median_repo(tmp_path / "workspace")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return repo


@pytest.fixture
def github(checkout: Path) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(owner="octo", name="stats", bare=checkout.parent / "remote.git", token=TOKEN)
    fake.add_issue(7, "median of an even-length list is wrong", "median([1, 2, 3, 4]) returns 3, not 2.5.")
    with GitHubServer(fake) as running:
        yield running


def run_action(checkout: Path, github: FakeGitHub, inputs: dict[str, str]) -> ActionRun:
    temp = checkout.parent / "runner-temp"
    temp.mkdir()
    summary = temp / "summary.md"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(temp)),
        "PYTHONPATH": str(ROOT),  # this checkout's agent, also when the venv's editable install is elsewhere
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(temp),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_WORKSPACE": str(checkout),
        "GITHUB_REPOSITORY": github.full_name,
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_STEP_SUMMARY": str(summary),
        "CI": "true",
    }
    contexts = {
        "github": {"token": TOKEN, "run_id": "4242", "run_attempt": "1"},
        "runner": {"temp": str(temp), "os": "Linux", "arch": "X64"},
    }
    defaults = {"python": sys.executable, "agent-venv": str(VENV), "args": f"--script {MEDIAN_SCRIPT}"}
    run = ActionRun(load_action(ACTION), {**defaults, **inputs}, contexts, env, checkout, temp)
    return run.run()


def test_no_expression_is_pasted_into_a_shell_script() -> None:
    """Inputs (issue text above all) reach the scripts only through `env:`, never spliced into code."""
    for step in load_action(ACTION)["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def test_the_action_fixes_the_issue_opens_the_pull_request_and_comments(
    checkout: Path, github: FakeGitHub
) -> None:
    run = run_action(checkout, github, {"issue": "7", "model": str(MEDIAN_SCRIPT), "open-pr": "true"})
    failed = [(s.name, s.exit_code, s.stderr[-2000:]) for s in run.steps if s.exit_code != 0]
    assert not failed, failed
    ran = [s.name for s in run.steps if s.ran]
    assert "Install the agent from this action's checkout" not in ran  # agent-venv given
    assert "Get the model" not in ran  # a model file, not a catalogue name: nothing to download
    assert {"Fix the issue", "Post the report", "Exit with the agent's exit code"} <= set(ran)

    assert run.outputs["fix"]["exit-code"] == "0"
    assert run.outputs["report"]["status"] == "resolved"
    assert run.outputs["report"]["pull-request-number"] == "1"
    assert len(github.pulls) == 1 and github.pulls[0]["head"]["ref"] == "agent/issue-7"
    assert github.branch_sha("agent/issue-7") is not None

    assert len(github.comments) == 1
    comment = github.comments[0]
    assert comment["issue_url"].endswith("/issues/1")  # on the pull request, which shows the diff itself
    body = comment["body"]
    for part in ("local-agent (exit code 0)", "Pull request #1 opened", "median averages the middle pair"):
        assert part in body, body
    assert "https://github.example/octo/stats/actions/runs/4242" in body
    assert run.outputs["report"]["comment-url"] == comment["html_url"]
    assert "Pull request #1 opened" in (run.temp / "summary.md").read_text()
    # the fake answers 401 to any other token; the token itself shows up nowhere
    assert all(TOKEN not in s.stdout + s.stderr for s in run.steps) and TOKEN not in body


def test_issue_text_without_a_pull_request_is_reported_in_the_summary_only(
    checkout: Path, github: FakeGitHub
) -> None:
    text = "median([1, 2, 3, 4]) returns 3; $(touch pwned) `touch pwned2` it should be 2.5"
    inputs = {"issue": text, "base-url": "http://127.0.0.1:9/v1", "open-pr": "false"}
    run = run_action(checkout, github, inputs)
    assert [s.exit_code for s in run.steps] == [0] * len(run.steps), [s.stderr[-1000:] for s in run.steps]
    assert run.outputs["report"]["status"] == "resolved"
    assert run.outputs["report"]["pull-request-number"] == ""
    assert github.pulls == [] and github.comments == []  # no issue number, no pull request: nowhere to post
    summary = (run.temp / "summary.md").read_text()
    assert "```diff" in summary and "stats.py" in summary  # no pull request: the comment shows the change
    assert not (checkout / "pwned").exists() and not (checkout / "pwned2").exists()
    assert not (run.temp / "pwned").exists()


def test_the_example_workflow_uses_the_action_with_declared_inputs() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions" / "agent-fix.yml").read_text())
    steps = workflow["jobs"]["fix"]["steps"]
    ours = [s for s in steps if s.get("uses", "").endswith("/local-agent@main")]
    assert len(ours) == 1 and set(ours[0]["with"]) <= set(load_action(ACTION)["inputs"])
    assert sum(1 for _ in (ROOT / "examples" / "github-actions" / "agent-fix.yml").open()) <= 20
