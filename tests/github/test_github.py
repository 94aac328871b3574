"""The GitHub client and `--open-pr` / `agent pr` against a loopback fake of the REST API, pushing to
a real bare repository as the remote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.cli.headless import report_from_stream
from agent.github.api import GitHubClient, GitHubError, RateLimited
from agent.github.remote import PushError, push_branch, push_environment, slug_from_url
from tests.github_fake import FakeGitHub, GitHubServer, rate_headers
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git, median_repo

TOKEN = "ghp_fakeTOKENvalue1234567890abcdef"
AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT
TOKEN_CHECK = """import os


def test_no_token_in_the_environment():
    assert not any("ghp_fake" in value for value in os.environ.values())
    assert "GITHUB_TOKEN" not in os.environ and "LOCAL_AGENT_PUSH_TOKEN" not in os.environ
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout of `octo/stats` whose origin is a real bare repository."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo = median_repo(tmp_path / "checkout")
    (repo / "test_env.py").write_text(TOKEN_CHECK)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "token check")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return repo


@pytest.fixture
def github(checkout: Path) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(owner="octo", name="stats", bare=checkout.parent / "remote.git", token=TOKEN)
    fake.add_issue(7, "median of an even-length list is wrong", "median([1, 2, 3, 4]) returns 3, not 2.5.")
    with GitHubServer(fake) as running:
        yield running


def script_with_env_dump(tmp_path: Path) -> Path:
    """The median fix, plus a shell call printing the sandboxed environment."""
    turns = json.loads(SCRIPT.read_text())
    turns.insert(2, {"tool_calls": [{"name": "shell", "arguments": {"command": "env"}}]})
    path = tmp_path / "script.json"
    path.write_text(json.dumps(turns))
    return path


def agent_env(github: FakeGitHub) -> dict[str, str]:
    return {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": github.full_name,
        "CI": "true",
    }


def run_agent(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def assert_token_nowhere(checkout: Path, *outputs: str) -> None:
    for text in outputs:
        assert TOKEN not in text
    agent_dir = checkout / ".git" / ".agent"
    for path in [checkout / ".git" / "config", *agent_dir.rglob("*")]:
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path


# ---- the client, endpoint by endpoint ---------------------------------------------------------


def client_for(github: FakeGitHub, token: str = TOKEN, **kwargs) -> GitHubClient:
    return GitHubClient(httpx.Client(timeout=10), token, github.url, **kwargs)


def test_client_issue_and_pull_request_round_trip(github: FakeGitHub, checkout: Path) -> None:
    client = client_for(github)
    issue = client.get_issue("octo/stats", 7)
    assert issue.number == 7 and issue.title.startswith("median") and "2.5" in (issue.body or "")
    assert client.get_repository("octo/stats").default_branch == "main"
    assert client.find_pull("octo/stats", "fix") is None
    git(checkout, "push", "-q", "origin", "main:refs/heads/fix")
    created = client.create_pull("octo/stats", title="T", head="fix", base="main", body="B")
    assert created.number == 1 and created.head.ref == "fix" and created.html_url.endswith("/pull/1")
    found = client.find_pull("octo/stats", "fix")
    assert found is not None and found.number == 1
    updated = client.update_pull("octo/stats", 1, title="T2", body="B2")
    assert updated.title == "T2" and github.pulls[0]["body"] == "B2"
    listing = [r for r in github.requests if r.method == "GET" and r.path.endswith("/pulls")]
    assert listing[-1].query == {"head": ["octo:fix"], "state": ["open"]}
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in github.requests)
    assert all(r.headers["X-GitHub-Api-Version"] == "2022-11-28" for r in github.requests)


def test_client_errors_name_the_cause(github: FakeGitHub, checkout: Path) -> None:
    with pytest.raises(GitHubError, match=r"401.*Bad credentials.*GITHUB_TOKEN"):
        client_for(github, token="wrong").get_issue("octo/stats", 7)
    with pytest.raises(GitHubError, match=r"404.*Not Found.*issue number"):
        client_for(github).get_issue("octo/stats", 99)
    with pytest.raises(GitHubError, match=r"422.*Validation Failed"):
        client_for(github).create_pull("octo/stats", title="T", head="nope", base="main", body="")
    git(checkout, "push", "-q", "origin", "main:refs/heads/fix")
    client_for(github).create_pull("octo/stats", title="T", head="fix", base="main", body="")
    with pytest.raises(GitHubError, match="A pull request already exists for octo:fix"):
        client_for(github).create_pull("octo/stats", title="T", head="fix", base="main", body="")
    github.fail_next("GET", r"/issues/7$", 502, {}, "Server Error")
    with pytest.raises(GitHubError, match=r"502.*try again later") as caught:
        client_for(github).get_issue("octo/stats", 7)
    assert caught.value.status == 502


def test_unreachable_api_is_a_clear_error() -> None:
    client = GitHubClient(httpx.Client(timeout=2), TOKEN, "http://127.0.0.1:9")
    with pytest.raises(GitHubError, match=r"cannot reach the GitHub API.*GITHUB_API_URL"):
        client.get_issue("octo/stats", 1)


def test_primary_rate_limit_is_reported_with_its_reset_time(github: FakeGitHub) -> None:
    reset = time.time() + 1800
    github.fail_next("GET", r"/issues/7$", 403, rate_headers(0, reset), "API rate limit exceeded for user.")
    slept: list[float] = []
    expected = r"rate limit hit.*403.*API rate limit exceeded.*retry after"
    with pytest.raises(RateLimited, match=expected) as caught:
        client_for(github, sleep=slept.append).get_issue("octo/stats", 7)
    assert 1700 < caught.value.wait_seconds <= 1800 and slept == []


def test_secondary_rate_limit_with_a_short_retry_after_is_waited_out(github: FakeGitHub) -> None:
    github.fail_next("GET", r"/issues/7$", 429, {"retry-after": "2"}, "exceeded a secondary rate limit")
    slept: list[float] = []
    issue = client_for(github, sleep=slept.append).get_issue("octo/stats", 7)
    assert issue.number == 7 and slept == [2.0]
    github.fail_next("GET", r"/issues/7$", 429, {"retry-after": "600"}, "secondary rate limit", times=1)
    with pytest.raises(RateLimited, match="in 600s"):
        client_for(github, sleep=slept.append).get_issue("octo/stats", 7)


# ---- remotes and pushing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo/stats.git",
        "https://x-access-token:abc@github.com/octo/stats",
        "git@github.com:octo/stats.git",
        "ssh://git@ghe.example.com:2222/octo/stats.git",
        "https://ghe.example.com/octo/stats/",
    ],
)
def test_slug_from_remote_urls(url: str) -> None:
    assert slug_from_url(url) == "octo/stats"


def test_slug_of_a_local_path_is_unknown(tmp_path: Path) -> None:
    assert slug_from_url(str(tmp_path / "remote.git")) is None


def test_push_leaves_no_token_in_the_config(checkout: Path) -> None:
    import git as gitpython

    repo = gitpython.Repo(checkout)
    git(checkout, "branch", "agent/x")
    push_branch(repo, "agent/x", "agent/issue-1", "origin", TOKEN)
    bare = checkout.parent / "remote.git"
    pushed = git(bare, "rev-parse", "refs/heads/agent/issue-1").strip()
    assert pushed == git(checkout, "rev-parse", "agent/x").strip()
    assert TOKEN not in (checkout / ".git" / "config").read_text()
    with pytest.raises(PushError, match="no remote named 'upstream'"):
        push_branch(repo, "agent/x", "agent/issue-1", "upstream", TOKEN)


def test_the_credential_helper_hands_git_the_token(tmp_path: Path) -> None:
    """What git would send to an HTTPS remote: ask git itself through `git credential fill`."""
    env = {**os.environ, **push_environment(TOKEN), "HOME": str(tmp_path)}
    result = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=github.com\n\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert f"password={TOKEN}" in result.stdout.splitlines()
    assert "username=x-access-token" in result.stdout.splitlines()


# ---- the command line ------------------------------------------------------------------------


def test_open_pr_then_rerun_updates_the_same_pull_request(
    github: FakeGitHub, checkout: Path, tmp_path: Path
) -> None:
    script = script_with_env_dump(tmp_path)
    args = ["fix", "--github-issue", "7", "--open-pr", "--script", str(script), "--json"]
    first = run_agent(args, checkout, agent_env(github))
    assert first.returncode == 0, first.stderr
    report = report_from_stream(first.stdout)
    assert report["status"] == "resolved"
    assert report["pull_request"] == {
        "number": 1,
        "url": "https://github.example/octo/stats/pull/1",
        "action": "opened",
        "branch": "agent/issue-7",
    }
    bare = checkout.parent / "remote.git"
    assert git(bare, "rev-parse", "refs/heads/agent/issue-7").strip() == report["commit"]
    created = next(r for r in github.requests if r.method == "POST")
    assert created.body["title"] == "Fix #7: median of an even-length list is wrong"
    assert created.body["head"] == "agent/issue-7" and created.body["base"] == "main"
    body = created.body["body"]
    for part in ("median averages the middle pair", "Fixes #7", "### Plan", "1. Read stats.py", "`stats.py`"):
        assert part in body
    assert "**passed**" in body and "median_fix_script.json" not in body and "script.json (scripted" in body

    env_dump = next(
        json.loads(line)["output"]
        for line in first.stdout.splitlines()
        if '"kind":"tool_finished"' in line and '"name":"shell"' in line
    )
    assert "PATH=" in env_dump and "GITHUB_TOKEN" not in env_dump and TOKEN not in env_dump

    second = run_agent(args, checkout, agent_env(github))
    assert second.returncode == 0, second.stderr
    again = report_from_stream(second.stdout)
    assert again["pull_request"]["number"] == 1 and again["pull_request"]["action"] == "updated"
    assert len(github.pulls) == 1 and len([r for r in github.requests if r.method == "POST"]) == 1
    assert next(r for r in github.requests if r.method == "PATCH").path == "/repos/octo/stats/pulls/1"
    assert git(bare, "rev-parse", "refs/heads/agent/issue-7").strip() == again["commit"]
    assert_token_nowhere(checkout, first.stdout, first.stderr, second.stdout, second.stderr)


def test_api_failure_keeps_the_branch_and_agent_pr_finishes_the_job(
    github: FakeGitHub, checkout: Path, tmp_path: Path
) -> None:
    github.fail_next("GET", r"/pulls$", 403, rate_headers(0, time.time() + 3000), "API rate limit exceeded")
    args = ["fix", "--github-issue", "7", "--open-pr", "--script", str(SCRIPT), "--json"]
    failed = run_agent(args, checkout, agent_env(github))
    assert failed.returncode == 4, failed.stderr
    assert "rate limit hit" in failed.stderr and "retry after" in failed.stderr
    report = report_from_stream(failed.stdout)
    assert report["status"] == "resolved" and report["pull_request"] is None
    assert any("agent pr " + report["branch"] in note for note in report["notices"])
    assert git(checkout, "rev-parse", report["branch"]).strip() == report["commit"]
    assert Path(report["patch_path"]).read_text().startswith("diff --git a/stats.py")
    assert github.pulls == []

    assert report["github_issue"] == 7
    pr_args = ["pr", report["branch"], "--json"]  # the issue number comes from the recorded run
    retried = run_agent(pr_args, checkout, agent_env(github))
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["pull_request"]["action"] == "opened"
    assert len(github.pulls) == 1 and github.pulls[0]["head"]["ref"] == "agent/issue-7"
    assert_token_nowhere(checkout, failed.stdout, failed.stderr, retried.stdout, retried.stderr)


def test_open_pr_without_a_token_fails_before_the_run(github: FakeGitHub, checkout: Path) -> None:
    env = {k: v for k, v in agent_env(github).items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    result = run_agent(["fix", "the task", "--open-pr", "--script", str(SCRIPT)], checkout, env)
    assert result.returncode == 2 and "set GITHUB_TOKEN" in result.stderr
    assert "agent/" not in git(checkout, "branch", "--list")
