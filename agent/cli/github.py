"""The GitHub side of the command line: `--github-issue`, `--open-pr` and `agent pr [BRANCH]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import git
import httpx

from agent.github.api import GitHubClient, GitHubError
from agent.github.publish import GitHubTarget, PublishError, PullRequestOptions, publish
from agent.github.remote import PushError
from agent.run.exitcodes import EXIT_NOT_RESOLVED, EXIT_OK, EXIT_PUBLISH, EXIT_USAGE
from agent.run.report import RunReport

Say = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_pr_flags(parser: argparse.ArgumentParser, with_open: bool) -> None:
    group = parser.add_argument_group("pull request")
    if with_open:
        group.add_argument("--open-pr", action="store_true", help="push the branch and open a pull request")
    group.add_argument("--draft", action="store_true", help="open a draft (also for an unresolved run)")
    group.add_argument("--pr-branch", help="branch name on the remote (default agent/issue-N)")
    group.add_argument("--pr-base", help="branch to merge into (default: the current branch)")
    group.add_argument("--github-repo", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY or the remote")
    group.add_argument("--remote", default="origin", help="git remote to push to (default origin)")


@contextmanager
def github_client(target: GitHubTarget) -> Iterator[GitHubClient]:
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as http:
        yield GitHubClient(http, target.token, target.api_url)


def target_for(args: argparse.Namespace, checkout: git.Repo, env: Mapping[str, str]) -> GitHubTarget:
    return GitHubTarget.resolve(checkout, env, repo=args.github_repo, remote=args.remote)


def issue_fetcher(target: GitHubTarget) -> Callable[[int], tuple[str, str]]:
    def fetch(number: int) -> tuple[str, str]:
        with github_client(target) as client:
            issue = client.get_issue(target.repo, number)
        return issue.title, issue.body or ""

    return fetch


def _options(args: argparse.Namespace, report: RunReport) -> PullRequestOptions:
    issue = args.github_issue if args.github_issue is not None else report.github_issue
    return PullRequestOptions(issue=issue, branch=args.pr_branch, base=args.pr_base, draft=args.draft)


def open_pull_request(
    checkout: git.Repo, report: RunReport, args: argparse.Namespace, target: GitHubTarget, say: Say = _stderr
) -> int:
    """Publish a finished run (sets `report.pull_request`); the exit code for the outcome."""
    if not report.commit:
        report.notices.append("no pull request: the agent made no change")
        return EXIT_NOT_RESOLVED
    if report.status != "resolved" and not args.draft:
        report.notices.append("no pull request: the run is not resolved (--draft opens a draft anyway)")
        return EXIT_NOT_RESOLVED
    try:
        with github_client(target) as client:
            report.pull_request = publish(checkout, report, target, client, _options(args, report))
    except (GitHubError, PushError, PublishError) as exc:
        where = f"the change is safe on branch {report.branch}" + (
            f" and in {report.patch_path}" if report.patch_path else ""
        )
        message = f"pull request not opened: {exc}. {where}; retry with `agent pr {report.branch}`"
        report.notices.append(message)
        say(f"agent: {message}")
        return EXIT_PUBLISH
    pr = report.pull_request
    say(f"agent: pull request #{pr.number} {pr.action}: {pr.url}")
    return EXIT_OK if report.status == "resolved" else EXIT_NOT_RESOLVED


def find_report(checkout: git.Repo, branch: str | None) -> RunReport | None:
    """The newest recorded run whose change is on `branch` (any branch when None)."""
    from agent.events import RunFinished
    from agent.repo.dirs import session_dir
    from agent.run.session import list_sessions, read_trajectory

    for path in list_sessions(session_dir(checkout)):
        for event in read_trajectory(path):
            if not isinstance(event, RunFinished):
                continue
            report = RunReport.model_validate(event.report)
            if report.branch and report.commit and (branch is None or report.branch == branch):
                return report
    return None


def cmd_pr(args: argparse.Namespace, checkout: git.Repo) -> int:
    """`agent pr [BRANCH]`: publish the change of an earlier run."""
    report = find_report(checkout, args.branch)
    if report is None:
        which = f"on branch {args.branch}" if args.branch else "with a change"
        print(f"agent: no recorded run {which}; `agent sessions` lists the runs", file=sys.stderr)
        return EXIT_USAGE
    if report.branch not in {h.name for h in checkout.heads}:
        print(f"agent: branch {report.branch} no longer exists", file=sys.stderr)
        return EXIT_USAGE
    target = target_for(args, checkout, os.environ)
    args.draft = args.draft or report.status != "resolved"
    code = open_pull_request(checkout, report, args, target)
    if args.json:
        print(report.model_dump_json(indent=2))
    return code if code == EXIT_PUBLISH else EXIT_OK
