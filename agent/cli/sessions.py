"""What a run leaves behind: `agent sessions` (list, show), `agent undo`, `agent apply` and `agent pr`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agent.cli.github import add_pr_flags
from agent.run.exitcodes import EXIT_OK, EXIT_USAGE
from agent.run.workspace import open_repo


def add_pr_parser(sub: Any) -> None:
    pr = sub.add_parser("pr", help="push an agent branch and open (or update) its pull request")
    pr.add_argument("branch", nargs="?", help="agent branch (default: the latest run's)")
    pr.add_argument("--github-issue", type=int, metavar="N", help="the issue it fixes (branch agent/issue-N)")
    pr.add_argument("--json", action="store_true", help="print the report, pull request included")
    add_pr_flags(pr, with_open=False)


def add_apply_parser(sub: Any) -> None:
    apply = sub.add_parser("apply", help="apply the change on an agent branch to your working tree")
    apply.add_argument("branch", help="the agent branch to apply (agent/<slug>, see `agent sessions`)")


def add_session_parsers(sub: Any) -> None:
    """`agent undo` and `agent sessions`."""
    undo = sub.add_parser("undo", help="revert a session's last edits on its agent branch (a new commit)")
    undo.add_argument("session", nargs="?", help="session id or prefix (default: the latest with edits)")
    undo.add_argument("-n", type=int, default=1, dest="count", help="how many edits to revert (default 1)")

    sessions = sub.add_parser("sessions", help="list recorded sessions, or show one")
    sessions.add_argument("show", nargs="?", metavar="ID", help="print this session's transcript")


def cmd_pr(args: argparse.Namespace) -> int:
    from agent.cli.github import cmd_pr as run_pr

    return run_pr(args, open_repo(args.repo))


def cmd_apply(args: argparse.Namespace) -> int:
    from agent.run.workspace import apply_branch

    repo = open_repo(args.repo)
    files = apply_branch(repo, args.branch)
    print(f"applied {args.branch} to your working tree: {', '.join(files)}")
    return EXIT_OK


def cmd_sessions(args: argparse.Namespace) -> int:
    from agent.cli.console import ConsolePrinter
    from agent.events import RunFinished, RunStarted
    from agent.repo.dirs import session_dir
    from agent.run.session import list_sessions, read_trajectory

    paths = list_sessions(session_dir(open_repo(args.repo)))
    if args.show:
        matches = [p for p in paths if p.stem.startswith(args.show)]
        if len(matches) != 1:
            print(f"agent: {len(matches)} sessions match {args.show!r}; `agent sessions` lists them")
            return EXIT_USAGE
        printer = ConsolePrinter(out=sys.stdout, verbose=True, replay=True)
        for event in read_trajectory(matches[0]):
            printer(event)
        return EXIT_OK
    for path in paths:
        task, status = "?", "unfinished"
        for event in read_trajectory(path):
            if isinstance(event, RunStarted):
                task = event.task
            elif isinstance(event, RunFinished):
                status = str(event.report.get("status"))
        print(f"{path.stem}  {status:<13} {task.splitlines()[0][:70] if task else ''}")
    return EXIT_OK


def cmd_undo(args: argparse.Namespace) -> int:
    from agent.run.undo import undo

    result = undo(open_repo(args.repo), args.session, args.count)
    edits = ", ".join(f"{rec.tool} {rec.path}" for rec in result.undone)
    left = f"{result.remaining} edit(s) left to undo" if result.remaining else "nothing left to undo"
    print(f"undid {len(result.undone)} edit(s) of session {result.session} on {result.branch}: {edits}")
    print(f"commit {result.commit[:12]}; {left}")
    return EXIT_OK
