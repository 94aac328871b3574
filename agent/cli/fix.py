"""`agent fix`: one task on a new branch, with a report and an exit code however it ends."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import agent.cli.quiet_interrupt
from agent.cli.errors import known_error
from agent.cli.flags import add_engine_flags, config_for
from agent.cli.github import add_pr_flags
from agent.cli.headless import JsonEvents, UsageError
from agent.cli.sandbox import add_sandbox_flags
from agent.cli.trust import warn_untrusted
from agent.engines.base import EngineError
from agent.errors import OutputClosed
from agent.models.resolution import ModelNotFound
from agent.run.exitcodes import EXIT_ENGINE, EXIT_INTERRUPTED, exit_code_for
from agent.run.workspace import open_repo


def add_fix_parser(sub: Any) -> argparse.ArgumentParser:
    """`agent fix`: the task, the model, the run's budgets and output, the pull request and the
    sandbox (the TUI adds `--tui`)."""
    fix = sub.add_parser("fix", help="fix an issue on a new branch, verified by the tests")
    add_task_flags(fix)
    add_engine_flags(fix)
    fix.add_argument("--apply", action="store_true", help="apply a resolved change to your working tree")
    fix.add_argument("--test-cmd", dest="test_command", help="command that runs the tests")
    fix.add_argument(
        "--python",
        help="the interpreter that runs the tests (default: found: $VIRTUAL_ENV, .venv/, uv, poetry...)",
    )
    fix.add_argument("--max-steps", type=int, dest="max_steps", help="model turns the run may take")
    fix.add_argument("--max-minutes", type=float, dest="max_minutes", help="wall-clock budget of the run")
    fix.add_argument(
        "--edit-tests",
        action="store_const",
        const=True,
        dest="edit_tests",
        help="let the agent change existing test files (by default they are the fix's specification)",
    )
    fix.add_argument(
        "--repair",
        choices=["auto", "always", "off"],
        help="draft-and-test repair before the tool loop when the tests show the bug (default auto)",
    )
    fix.add_argument(
        "--reproduce",
        choices=["auto", "always", "off"],
        help="when no test shows the bug, write one from the issue first (default auto)",
    )
    fix.add_argument("--json", action="store_true", help="stream events as JSON lines on stdout, report last")
    fix.add_argument("--verbose", "-v", action="store_true", help="show token usage and thinking")
    add_pr_flags(fix, with_open=True)
    add_sandbox_flags(fix)
    return fix


def add_task_flags(fix: argparse.ArgumentParser) -> None:
    fix.add_argument("task", nargs="?", help="the issue, in words (`-` reads it from stdin)")
    fix.add_argument("--issue-file", type=Path, help="read the issue from this file")
    fix.add_argument("--github-issue", type=int, metavar="N", help="fetch issue N from GitHub")
    fix.add_argument(
        "--headless",
        action="store_true",
        help="never prompt (automatic when stdin is not a terminal, or CI=true)",
    )


def cmd_fix(args: argparse.Namespace) -> int:
    """`agent fix`: every way it ends has an exit code, a message and, with --json, a last
    `run_finished` line (also when the run never started)."""
    from agent.cli.headless import stopped_report
    from agent.run.report import render_text

    events = JsonEvents(sys.stdout) if args.json else None
    task = args.task if isinstance(args.task, str) and args.task != "-" else ""
    try:
        return _fix(args, events)
    except KeyboardInterrupt as exc:
        print(f"\n{agent.cli.quiet_interrupt.INTERRUPTED}", file=sys.stderr)
        why = "interrupted by the user"
        report = getattr(exc, "report", None) or stopped_report(EXIT_INTERRUPTED, why, task)
        if events is not None:
            events.finish(report, EXIT_INTERRUPTED, why)
        elif report.session_id:
            print(render_text(report))
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed: the run's events (OutputClosed) or the report after it
        raise  # main() exits quietly
    except Exception as exc:
        code, message = known_error(exc) or _internal_error(exc)
        print(f"agent: {message}", file=sys.stderr)
        if events is not None and not events.finished:
            events.fail(code, message, task)
        return code


def _internal_error(exc: Exception) -> tuple[int, str]:
    traceback.print_exc()
    return EXIT_ENGINE, f"internal error, please report it: {type(exc).__name__}: {exc}"


def _fix(args: argparse.Namespace, events: JsonEvents | None) -> int:
    from agent.build import build_engine, fix_run, run_sandboxes, warn
    from agent.cli.console import ConsolePrinter
    from agent.cli.github import issue_fetcher, open_pull_request, target_for
    from agent.cli.headless import headless_mode, read_task
    from agent.cli.heartbeat import Heartbeat
    from agent.cli.terminal_approval import TerminalApprover
    from agent.run.fix import FixRequest, check_writable
    from agent.run.report import render_text

    repo = open_repo(args.repo)
    check_writable(repo, args.apply)  # before a model is loaded for nothing
    args.headless = headless_mode(args.headless, sys.stdin, os.environ)
    target = target_for(args, repo, os.environ) if args.open_pr or args.github_issue else None
    if args.open_pr and target is not None:
        target.require_token()  # fail before the run, not after it
    fetch = issue_fetcher(target) if target else _no_fetch
    task = read_task(args.task, args.issue_file, args.github_issue, sys.stdin, fetch)
    config = config_for(args, Path(repo.working_tree_dir or args.repo))
    approver = None if args.headless else TerminalApprover()
    sandboxes = run_sandboxes(config, repo, approver, "asked in the terminal")
    warn(config, sys.stderr, headless=approver is None)
    try:
        engine = build_engine(config, script=args.script)
    except (ModelNotFound, EngineError):
        warn_untrusted(config)  # the run, which says it, never starts: what was ignored may be why
        raise
    printer = ConsolePrinter(verbose=args.verbose)
    heartbeat = Heartbeat(printer.console)  # a line every few seconds while the run works
    emit = _fanout(printer, heartbeat, *([events] if events else []))
    run = fix_run(engine, sandboxes, config, _closed_output_stops(emit))
    request = FixRequest(task=task.text, repo=repo, apply=args.apply, github_issue=task.issue)
    with heartbeat.running():
        report = run.run(request)
    code, error = run.failure or (exit_code_for(report), None)
    if args.open_pr and target is not None and report.status != "error" and run.failure is None:
        code = open_pull_request(repo, report, args, target)
    if error:
        print(f"agent: {error}", file=sys.stderr)
    if events:
        events.finish(report, code, error)
    else:
        print(render_text(report))
    return code


def _no_fetch(number: int) -> tuple[str, str]:
    raise UsageError(f"--github-issue {number} needs the GitHub repository")


def _closed_output_stops(emit: Any) -> Any:
    def guarded(event: Any) -> None:
        try:
            emit(event)
        except BrokenPipeError as exc:
            raise OutputClosed(*exc.args) from exc

    return guarded


def _fanout(*sinks: Any) -> Any:
    def emit(event: Any) -> None:
        for sink in sinks:
            sink(event)

    return emit
