"""Publishing a run's change as a pull request: push the branch, then open or update the PR.

One issue, one remote branch (`agent/issue-N`, or `agent/<slug of the task>`), one pull request:
a re-run force-pushes the same branch and updates the open pull request found for it.
If anything fails the local branch and the patch file stay exactly as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import git

from agent.errors import UserError
from agent.github.api import DEFAULT_API_URL, GitHubClient
from agent.github.remote import push_branch, repository_slug
from agent.run.report import PullRequestRef, RunReport
from agent.run.workspace import slugify

TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


class PublishError(UserError):
    """Publishing cannot start (no token, unknown repository, nothing to push)."""


@dataclass(frozen=True)
class GitHubTarget:
    """Where pull requests go: the API, the token, the repository and the remote to push to."""

    api_url: str
    token: str | None
    repo: str  # owner/name
    remote: str = "origin"

    @classmethod
    def resolve(
        cls, checkout: git.Repo, env: Mapping[str, str], repo: str | None = None, remote: str = "origin"
    ) -> GitHubTarget:
        token = next((env[name] for name in TOKEN_VARIABLES if env.get(name)), None)
        slug = repo or repository_slug(checkout, remote, env)
        if not slug:
            raise PublishError(
                f"cannot tell which GitHub repository this is: remote {remote!r} is not a GitHub URL and "
                "GITHUB_REPOSITORY is not set; pass --github-repo OWNER/NAME"
            )
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(api_url=api_url, token=token, repo=slug, remote=remote)

    def require_token(self) -> str:
        if not self.token:
            raise PublishError(
                "opening a pull request needs a token: set GITHUB_TOKEN (with contents: write and "
                "pull-requests: write permissions)"
            )
        return self.token


@dataclass(frozen=True)
class PullRequestOptions:
    issue: int | None = None
    branch: str | None = None  # the remote branch; default agent/issue-N or agent/<task slug>
    base: str | None = None  # default: the checkout's current branch, else the repository's default
    draft: bool = False


def remote_branch(report: RunReport, options: PullRequestOptions) -> str:
    if options.branch:
        return options.branch
    if options.issue is not None:
        return f"agent/issue-{options.issue}"
    return f"agent/{slugify(report.task)}"


def pull_title(report: RunReport, issue: int | None) -> str:
    first = (report.task.strip().splitlines() or ["agent change"])[0].strip()
    first = first if len(first) <= 80 else first[:77] + "..."
    return f"Fix #{issue}: {first}" if issue is not None else first


def _tests_lines(report: RunReport) -> list[str]:
    t = report.tests
    if not t.ran:
        return ["No tests were run."]
    verdict = "passed" if t.ok else "FAILED"
    lines = [f"`{t.command}`: **{verdict}** ({t.passed} passed, {t.failed} failed, {t.errors} errors)"]
    lines += [f"- failing: `{node}`" for node in t.failing[:10]]
    return lines


def pull_body(report: RunReport, issue: int | None) -> str:
    """The pull request description: summary, plan, files changed, tests and their result, model."""
    lines = [report.summary or "(the agent gave no summary)", ""]
    if issue is not None:
        lines += [f"Fixes #{issue}", ""]
    if report.status != "resolved":
        lines += [f"> **Not verified**: the run ended `{report.status}` ({report.stop_reason}).", ""]
    if report.plan:
        lines += ["### Plan", *[f"{i}. {step}" for i, step in enumerate(report.plan, 1)], ""]
    lines += ["### Files changed", *[f"- `{path}`" for path in report.files_changed], ""]
    lines += ["### Tests", *_tests_lines(report), ""]
    lines += [
        "### Run",
        f"- model: {report.model} ({report.engine} engine)",
        f"- {report.steps} steps, {report.tool_calls} tool calls, {report.elapsed_seconds:.0f}s, "
        f"sandbox {report.sandbox}",
        f"- session `{report.session_id}`",
        "",
        "<sub>Opened by local-agent; running it again on the same issue updates this pull request.</sub>",
    ]
    return "\n".join(lines)


def _base_branch(checkout: git.Repo, client: GitHubClient, target: GitHubTarget, base: str | None) -> str:
    if base:
        return base
    if not checkout.head.is_detached:
        return checkout.active_branch.name
    return client.get_repository(target.repo).default_branch


def publish(
    checkout: git.Repo,
    report: RunReport,
    target: GitHubTarget,
    client: GitHubClient,
    options: PullRequestOptions,
) -> PullRequestRef:
    """Push the report's branch and open (or update) its pull request. Raises PushError or
    GitHubError; the local branch and patch are never touched."""
    if not report.branch or not report.commit:
        raise PublishError("the run made no change: there is nothing to push")
    token = target.require_token()
    branch = remote_branch(report, options)
    push_branch(checkout, report.branch, branch, target.remote, token)
    title, body = pull_title(report, options.issue), pull_body(report, options.issue)
    existing = client.find_pull(target.repo, branch)
    if existing is not None:
        pull = client.update_pull(target.repo, existing.number, title=title, body=body)
        return PullRequestRef(number=pull.number, url=pull.html_url, action="updated", branch=branch)
    base = _base_branch(checkout, client, target, options.base)
    pull = client.create_pull(
        target.repo, title=title, head=branch, base=base, body=body, draft=options.draft
    )
    return PullRequestRef(number=pull.number, url=pull.html_url, action="opened", branch=branch)
