"""The `agent` command: a thin shell around the builders in this package."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from agent.batch.cli import add_batch_parsers
from agent.config import AgentConfig, ConfigError, load_config
from agent.context.cli import add_context_parser, run_context
from agent.engine import EngineError
from agent.exitcodes import (
    EXIT_ENGINE,
    EXIT_INTERRUPTED,
    EXIT_NOT_RESOLVED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
)
from agent.github.api import GitHubError
from agent.github.cli import add_pr_flags
from agent.github.publish import PublishError
from agent.headless import UsageError
from agent.loop import ContextTooSmall
from agent.model_resolution import ModelNotFound
from agent.sandbox_cli import add_sandbox_flags, add_sandbox_parser, cmd_sandbox, sandbox_overrides
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
        "--speculative",
        choices=["auto", "off"],
        help="prompt-lookup speculative decoding in the embedded engine (default auto: on where it pays)",
    )
    group.add_argument(
        "--thinking", choices=["off", "high", "max"], help="thinking effort (models that think)"
    )
    group.add_argument("--experts", type=int, dest="experts_used", help="MoE experts used per token")
    group.add_argument(
        "--kv-type", choices=["f16", "q8_0", "q4_0"], dest="kv_cache_type", help="KV cache type"
    )
    group.add_argument("--parallel", type=int, help="sequences decoded together (servers)")
    group.add_argument("--script", type=Path, help="replay a scripted engine (tests and demos)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent", description="A local-first coding agent.")
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
        "speculative",
        "thinking",
        "experts_used",
        "kv_cache_type",
        "parallel",
        "test_command",
        "max_steps",
        "max_minutes",
        "edit_tests",
        "repair",
    )
    config = load_config(repo_root, {**{k: getattr(args, k, None) for k in keys}, **sandbox_overrides(args)})
    extra = getattr(args, "sandbox_read", None) or []
    if extra:  # `--sandbox-read` adds to the configured read_paths
        config.sandbox.read_paths = [*config.sandbox.read_paths, *(str(Path(p).resolve()) for p in extra)]
    return config


def cmd_fix(args: argparse.Namespace) -> int:
    from agent.console import ConsolePrinter
    from agent.engines import build_engine
    from agent.fix import FixRequest, FixRun
    from agent.github.cli import issue_fetcher, open_pull_request, target_for
    from agent.headless import JsonEvents, headless_mode, read_task
    from agent.report import render_text
    from agent.sandboxing import command_sandbox, preparation_sandbox

    repo = open_repo(args.repo)
    args.headless = headless_mode(args.headless, sys.stdin, os.environ)
    target = target_for(args, repo, os.environ) if args.open_pr or args.github_issue else None
    if args.open_pr and target is not None:
        target.require_token()  # fail before the run, not after it
    fetch = issue_fetcher(target) if target else _no_fetch
    task = read_task(args.task, args.issue_file, args.github_issue, sys.stdin, fetch)
    config = _config(args, Path(repo.working_tree_dir or args.repo))
    sandbox = command_sandbox(config, repo)
    engine = build_engine(config, script=args.script)
    printer = ConsolePrinter(verbose=args.verbose)
    events = JsonEvents(sys.stdout) if args.json else None
    emit = _fanout(printer, events) if events else printer
    run = FixRun(engine, sandbox, config, emit, setup=preparation_sandbox(config, repo))
    try:
        request = FixRequest(task=task.text, repo=repo, apply=args.apply, github_issue=task.issue)
        report = run.run(request)
    except KeyboardInterrupt:
        print("\ninterrupted: your repository is exactly as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    code = EXIT_ENGINE if report.status == "error" else report.exit_code()
    if args.open_pr and target is not None and report.status != "error":
        code = open_pull_request(repo, report, args, target)
    if events:
        events.finish(report)
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
    from agent.mcp.cli import repo_root, tool_session
    from agent.sandboxing import command_sandbox
    from tools.base import ToolContext
    from tools.registry import run_tool_by_name

    listing = args.list or not args.name
    root = repo_root(args.repo) if listing else Path(open_repo(args.repo).working_tree_dir or args.repo)
    config = load_config(root, sandbox_overrides(args))
    with tool_session(config, root or args.repo) as toolbox:
        if listing:
            print(json.dumps([spec.model_dump() for spec in toolbox.specs()], indent=2))
            return EXIT_OK
        assert root is not None
        ctx = ToolContext(
            root=root,
            sandbox=command_sandbox(config, open_repo(root)),
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
}


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    from agent.tui.cli import cmd_tui, wants_tui

    if args.command is None and not wants_tui(args):
        parser.print_help()
        return EXIT_USAGE
    handler = COMMANDS.get(args.command)
    try:
        if wants_tui(args):
            return cmd_tui(args, _config)
        if handler is None:
            from agent.models.cli import run_models

            return run_models(args, model_dirs=load_config(args.repo, {}).model_dirs)
        return handler(args)
    except (
        ConfigError,
        WorkspaceError,
        ModelNotFound,
        ContextTooSmall,
        UsageError,
        PublishError,
        SandboxUnavailable,
    ) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"agent: engine error: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    except GitHubError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_PUBLISH


if __name__ == "__main__":
    sys.exit(main())
