"""The `agent` command: the parser made of each subcommand's, and `main`, which runs one and turns
the errors a user can fix into a message and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import agent.cli.quiet_interrupt  # noqa: F401  first: a Ctrl-C while the modules below load exits 130
from agent.cli.batch import add_batch_parsers
from agent.cli.context import add_context_parser, run_context
from agent.cli.errors import known_error
from agent.cli.events import add_events_parser, cmd_events
from agent.cli.fix import add_fix_parser, cmd_fix
from agent.cli.flags import add_engine_flags, config_for
from agent.cli.headless import JsonEvents, UsageError
from agent.cli.sandbox import add_sandbox_parser, cmd_sandbox
from agent.cli.sessions import (
    add_apply_parser,
    add_pr_parser,
    add_session_parsers,
    cmd_apply,
    cmd_pr,
    cmd_sessions,
    cmd_undo,
)
from agent.cli.settings import settings_for
from agent.cli.tool import add_tool_parser, cmd_tool
from agent.cli.trust import add_trust_parser, cmd_trust
from agent.run.exitcodes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE


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
    parser.add_argument("--version", action="version", version=f"agent (local-agent) {package_version()}")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository (default: current dir)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML config file of your own, over the user and project files (trusted like the user file)",
    )
    sub = parser.add_subparsers(dest="command")
    fix = add_fix_parser(sub)
    add_pr_parser(sub)
    add_apply_parser(sub)
    add_tool_parser(sub)
    add_session_parsers(sub)
    add_batch_parsers(sub, add_engine_flags)
    add_sandbox_parser(sub)
    add_context_parser(sub)
    add_trust_parser(sub)
    add_events_parser(sub)
    _add_models(sub)
    from agent.cli.mcp import add_mcp_parser

    add_mcp_parser(sub)

    from agent.cli.tui import add_tui_parser

    add_tui_parser(sub, fix, add_engine_flags)
    return parser


def package_version() -> str:
    """The installed package's version (its metadata), for `agent --version`."""
    try:
        return metadata.version("local-agent")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _add_models(sub: Any) -> None:
    try:
        from agent.cli.models import add_models_parser
    except ImportError:
        return
    add_models_parser(sub)


def cmd_mcp(args: argparse.Namespace) -> int:
    from agent.cli.mcp import run_mcp

    return run_mcp(args)


def cmd_batch(args: argparse.Namespace) -> int:
    from agent.cli.batch import cmd_batch as run_batch

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
    "events": cmd_events,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader that closed stdout early (`| head`) ends it quietly, exit 141."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, not at exit, where a closed pipe is a traceback Python prints
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere, quietly
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: list[str] | None) -> int:
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
    from agent.cli.tui import cmd_tui, wants_tui

    if args.command is None and not wants_tui(args):
        parser.print_help()
        return EXIT_USAGE
    if wants_tui(args):
        return cmd_tui(args, config_for)
    handler = COMMANDS.get(args.command)
    if handler is None:
        from agent.cli.models import run_models

        return run_models(args, model_dirs=settings_for(args, args.repo, {}).engine.model_dirs)
    return handler(args)
