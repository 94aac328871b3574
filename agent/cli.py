"""The `agent` command: a thin shell around the builders in this package."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import agent.quiet_interrupt  # first: a Ctrl-C while the modules below load exits 130
from agent.batch.cli import add_batch_parsers
from agent.config import AgentConfig, ConfigError, load_config
from agent.config_check import check_numbers
from agent.context.cli import add_context_parser, run_context
from agent.engine import EngineError
from agent.exitcodes import (
    EXIT_ENGINE,
    EXIT_INTERRUPTED,
    EXIT_NOT_RESOLVED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    exit_code_for,
)
from agent.github.api import GitHubError
from agent.github.cli import add_pr_flags
from agent.github.publish import PublishError
from agent.headless import JsonEvents, UsageError
from agent.loop import ContextTooSmall
from agent.model_resolution import ModelNotFound
from agent.sandbox_cli import add_sandbox_flags, add_sandbox_parser, cmd_sandbox, sandbox_overrides
from agent.trust_cli import add_trust_parser, cmd_trust, warn_untrusted
from agent.workspace import WorkspaceError, open_repo
from sandbox.bubblewrap import SandboxUnavailable


def _add_engine_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="GGUF file or catalogue model name for the embedded engine")
    group.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    group.add_argument("--server-model", help="model name to ask the server for")
    group.add_argument("--ctx", type=int, dest="n_ctx", help="context window in tokens (embedded engine)")
    group.add_argument("--threads", type=int, help="CPU threads for the embedded engine")
    group.add_argument(
        "--thinking", choices=["off", "high", "max"], help="thinking effort (models that think)"
    )
    group.add_argument("--experts", type=int, dest="experts_used", help="MoE experts used per token")
    group.add_argument(
        "--kv-type", choices=["f16", "q8_0", "q4_0"], dest="kv_cache_type", help="KV cache type"
    )
    group.add_argument("--parallel", type=int, help="sequences decoded together (servers)")
    group.add_argument("--script", type=Path, help="replay a scripted engine (tests and demos)")


class ArgumentsError(UsageError):
    """The command line does not parse (argparse's error, raised rather than exiting)."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (its subparsers too) whose errors `main` reports: with `agent fix --json`
    they end stdout with a `run_finished` event like every other error."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(self.format_usage(), f"{self.prog}: error: {message}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agent", description="A local-first coding agent.")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository (default: current dir)")
    sub = parser.add_subparsers(dest="command")

    fix = sub.add_parser("fix", help="fix an issue on a new branch, verified by the tests")
    _add_task_flags(fix)
    _add_engine_flags(fix)
    fix.add_argument("--apply", action="store_true", help="apply a resolved change to your working tree")
    fix.add_argument("--test-cmd", dest="test_command", help="command that runs the tests")
    fix.add_argument("--max-steps", type=int, dest="max_steps")
    fix.add_argument("--max-minutes", type=float, dest="max_minutes")
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

    pr = sub.add_parser("pr", help="push an agent branch and open (or update) its pull request")
    pr.add_argument("branch", nargs="?", help="agent branch (default: the latest run's)")
    pr.add_argument("--github-issue", type=int, metavar="N", help="the issue it fixes (branch agent/issue-N)")
    pr.add_argument("--json", action="store_true", help="print the report, pull request included")
    add_pr_flags(pr, with_open=False)
    add_sandbox_flags(fix)

    apply = sub.add_parser("apply", help="apply the change on an agent branch to your working tree")
    apply.add_argument("branch")

    tool = sub.add_parser("tool", help="run one tool by hand, exactly as the agent would")
    tool.add_argument("name", nargs="?")
    tool.add_argument("--args", default="{}", help="tool arguments as a JSON object")
    tool.add_argument("--list", action="store_true", help="list the tools and their JSON schemas")
    tool.add_argument("--json", action="store_true", help="print the structured result")
    add_sandbox_flags(tool)

    undo = sub.add_parser("undo", help="revert a session's last edits on its agent branch (a new commit)")
    undo.add_argument("session", nargs="?", help="session id or prefix (default: the latest with edits)")
    undo.add_argument("-n", type=int, default=1, dest="count", help="how many edits to revert (default 1)")

    sessions = sub.add_parser("sessions", help="list recorded sessions, or show one")
    sessions.add_argument("show", nargs="?", metavar="ID", help="print this session's transcript")
    add_batch_parsers(sub, _add_engine_flags)
    add_sandbox_parser(sub)
    add_context_parser(sub)
    add_trust_parser(sub)
    _add_models(sub)
    from agent.mcp.cli import add_mcp_parser

    add_mcp_parser(sub)

    from agent.tui.cli import add_tui_parser

    add_tui_parser(sub, fix, _add_engine_flags)
    return parser


def _add_task_flags(fix: argparse.ArgumentParser) -> None:
    fix.add_argument("task", nargs="?", help="the issue, in words (`-` reads it from stdin)")
    fix.add_argument("--issue-file", type=Path, help="read the issue from this file")
    fix.add_argument("--github-issue", type=int, metavar="N", help="fetch issue N from GitHub")
    fix.add_argument(
        "--headless",
        action="store_true",
        help="never prompt (automatic when stdin is not a terminal, or CI=true)",
    )


def _add_models(sub: Any) -> None:
    try:
        from agent.models.cli import add_models_parser
    except ImportError:
        return
    add_models_parser(sub)


def _config(args: argparse.Namespace, repo_root: Path | None) -> AgentConfig:
    keys = (
        "model",
        "base_url",
        "server_model",
        "n_ctx",
        "threads",
        "thinking",
        "experts_used",
        "kv_cache_type",
        "parallel",
        "test_command",
        "max_steps",
        "max_minutes",
        "edit_tests",
        "repair",
        "reproduce",
    )
    config = load_config(repo_root, {**{k: getattr(args, k, None) for k in keys}, **sandbox_overrides(args)})
    check_numbers(config)  # NaN, infinite and negative flags and settings
    extra = getattr(args, "sandbox_read", None) or []
    if extra:  # `--sandbox-read` adds to the configured read_paths
        config.sandbox.read_paths = [*config.sandbox.read_paths, *(str(Path(p).resolve()) for p in extra)]
    return config


def cmd_fix(args: argparse.Namespace) -> int:
    """`agent fix`: every way it ends has an exit code, a message and, with --json, a last
    `run_finished` line (also when the run never started)."""
    from agent.headless import stopped_report
    from agent.report import render_text

    events = JsonEvents(sys.stdout) if args.json else None
    task = args.task if isinstance(args.task, str) and args.task != "-" else ""
    try:
        return _fix(args, events)
    except KeyboardInterrupt as exc:
        print(f"\n{agent.quiet_interrupt.INTERRUPTED}", file=sys.stderr)
        why = "interrupted by the user"
        report = getattr(exc, "report", None) or stopped_report(EXIT_INTERRUPTED, why, task)
        if events is not None:
            events.finish(report, EXIT_INTERRUPTED, why)
        elif report.session_id:
            print(render_text(report))
        return EXIT_INTERRUPTED
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
    from agent.build import run_sandboxes, warn
    from agent.console import ConsolePrinter
    from agent.engines import build_engine
    from agent.fix import FixRequest, FixRun, check_writable
    from agent.github.cli import issue_fetcher, open_pull_request, target_for
    from agent.headless import headless_mode, read_task
    from agent.report import render_text
    from agent.terminal_approval import TerminalApprover

    repo = open_repo(args.repo)
    check_writable(repo, args.apply)  # before a model is loaded for nothing
    args.headless = headless_mode(args.headless, sys.stdin, os.environ)
    target = target_for(args, repo, os.environ) if args.open_pr or args.github_issue else None
    if args.open_pr and target is not None:
        target.require_token()  # fail before the run, not after it
    fetch = issue_fetcher(target) if target else _no_fetch
    task = read_task(args.task, args.issue_file, args.github_issue, sys.stdin, fetch)
    config = _config(args, Path(repo.working_tree_dir or args.repo))
    approver = None if args.headless else TerminalApprover()
    sandboxes = run_sandboxes(config, repo, approver, "asked in the terminal")
    warn(config, sys.stderr, headless=approver is None)
    try:
        engine = build_engine(config, script=args.script)
    except (ModelNotFound, EngineError):
        warn_untrusted(config)  # the run, which says it, never starts: what was ignored may be why
        raise
    printer = ConsolePrinter(verbose=args.verbose)
    emit = _fanout(printer, events) if events else printer
    run = FixRun(engine, sandboxes, config, emit)
    request = FixRequest(task=task.text, repo=repo, apply=args.apply, github_issue=task.issue)
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


def _fanout(*sinks: Any) -> Any:
    def emit(event: Any) -> None:
        for sink in sinks:
            sink(event)

    return emit


def cmd_pr(args: argparse.Namespace) -> int:
    from agent.github.cli import cmd_pr as run_pr

    return run_pr(args, open_repo(args.repo))


def cmd_apply(args: argparse.Namespace) -> int:
    from agent.workspace import apply_branch

    repo = open_repo(args.repo)
    files = apply_branch(repo, args.branch)
    print(f"applied {args.branch} to your working tree: {', '.join(files)}")
    return EXIT_OK


def cmd_tool(args: argparse.Namespace) -> int:
    from agent.build import approve_by_hand, tool_sandboxes
    from agent.mcp.cli import repo_root, tool_session
    from tools.base import ToolContext
    from tools.registry import run_tool_by_name

    listing = args.list or not args.name
    root = repo_root(args.repo) if listing else Path(open_repo(args.repo).working_tree_dir or args.repo)
    config = check_numbers(load_config(root, sandbox_overrides(args)))
    warn_untrusted(config)
    sandboxes = tool_sandboxes(config, open_repo(root) if root else None, approve_by_hand)
    with tool_session(config, root or args.repo, sandboxes.servers) as toolbox:
        if listing:
            print(json.dumps([spec.model_dump() for spec in toolbox.specs()], indent=2))
            return EXIT_OK
        assert root is not None
        ctx = ToolContext(
            root=root,
            sandbox=sandboxes.commands,
            test_command=config.test_command,
            command_timeout=config.command_timeout,
            writable=config.sandbox.policy != "read-only",
        )
        outcome = run_tool_by_name(toolbox, args.name, args.args, ctx)
    if args.json:
        print(outcome.model_dump_json(indent=2))
    else:
        print(outcome.result.output)
    return EXIT_OK if outcome.error is None and outcome.result.ok else EXIT_NOT_RESOLVED


def cmd_sessions(args: argparse.Namespace) -> int:
    from agent.console import ConsolePrinter
    from agent.events import RunFinished, RunStarted
    from agent.fix import session_dir
    from agent.session import list_sessions, read_trajectory

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
    from agent.undo import undo

    result = undo(open_repo(args.repo), args.session, args.count)
    edits = ", ".join(f"{rec.tool} {rec.path}" for rec in result.undone)
    left = f"{result.remaining} edit(s) left to undo" if result.remaining else "nothing left to undo"
    print(f"undid {len(result.undone)} edit(s) of session {result.session} on {result.branch}: {edits}")
    print(f"commit {result.commit[:12]}; {left}")
    return EXIT_OK


def cmd_mcp(args: argparse.Namespace) -> int:
    from agent.mcp.cli import run_mcp

    return run_mcp(args)


def cmd_batch(args: argparse.Namespace) -> int:
    from agent.batch.cli import cmd_batch as run_batch

    return run_batch(args)


COMMANDS = {
    "fix": cmd_fix,
    "pr": cmd_pr,
    "apply": cmd_apply,
    "tool": cmd_tool,
    "sessions": cmd_sessions,
    "undo": cmd_undo,
    "mcp": cmd_mcp,
    "batch": cmd_batch,
    "eval": cmd_batch,
    "sandbox": cmd_sandbox,
    "context": run_context,
    "trust": cmd_trust,
}


def known_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for the errors a user can cause and fix; None for anything else."""
    if isinstance(exc, USER_ERRORS):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, EngineError):
        return EXIT_ENGINE, f"engine error: {exc}"
    if isinstance(exc, GitHubError):
        return EXIT_PUBLISH, str(exc)
    return None


USER_ERRORS = (
    ConfigError,
    WorkspaceError,
    ModelNotFound,
    ContextTooSmall,
    UsageError,
    PublishError,
    SandboxUnavailable,
)


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except ArgumentsError as exc:
        sys.stderr.write(f"{exc.usage}{exc}\n")
        if _streams_events(sys.argv[1:] if argv is None else argv):  # the stream ends as always
            JsonEvents(sys.stdout).fail(EXIT_USAGE, str(exc))
        return EXIT_USAGE
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        print("\nagent: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = known_error(exc)
        if known is None:
            raise
        print(f"agent: {known[1]}", file=sys.stderr)
        return known[0]


def _streams_events(words: list[str]) -> bool:
    """Whether a command line that did not parse was meant as `agent [--repo R] fix ... --json`."""
    rest = iter(words)
    for word in rest:
        if word == "--repo":
            next(rest, None)
        elif not word.startswith("-"):
            return word == "fix" and "--json" in words
    return False


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from agent.tui.cli import cmd_tui, wants_tui

    if args.command is None and not wants_tui(args):
        parser.print_help()
        return EXIT_USAGE
    if wants_tui(args):
        return cmd_tui(args, _config)
    handler = COMMANDS.get(args.command)
    if handler is None:
        from agent.models.cli import run_models

        return run_models(args, model_dirs=load_config(args.repo, {}).model_dirs)
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
