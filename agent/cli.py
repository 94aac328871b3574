"""The `agent` command: a thin shell around the builders in this package."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, ConfigError, load_config
from agent.context.cli import add_context_parser, run_context
from agent.engine import EngineError
from agent.loop import ContextTooSmall
from agent.model_resolution import ModelNotFound
from agent.workspace import WorkspaceError, open_repo

EXIT_OK, EXIT_NOT_RESOLVED, EXIT_USAGE, EXIT_ENGINE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent", description="A local-first coding agent.")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository (default: current dir)")
    sub = parser.add_subparsers(dest="command")

    fix = sub.add_parser("fix", help="fix an issue on a new branch, verified by the tests")
    fix.add_argument("task", help="the issue, in words")
    _add_engine_flags(fix)
    fix.add_argument("--apply", action="store_true", help="apply a resolved change to your working tree")
    fix.add_argument("--test-cmd", dest="test_command", help="command that runs the tests")
    fix.add_argument("--max-steps", type=int, dest="max_steps")
    fix.add_argument("--max-minutes", type=float, dest="max_minutes")
    fix.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    fix.add_argument("--verbose", "-v", action="store_true", help="show token usage and thinking")

    apply = sub.add_parser("apply", help="apply the change on an agent branch to your working tree")
    apply.add_argument("branch")

    tool = sub.add_parser("tool", help="run one tool by hand, exactly as the agent would")
    tool.add_argument("name", nargs="?")
    tool.add_argument("--args", default="{}", help="tool arguments as a JSON object")
    tool.add_argument("--list", action="store_true", help="list the tools and their JSON schemas")
    tool.add_argument("--json", action="store_true", help="print the structured result")

    sessions = sub.add_parser("sessions", help="list recorded sessions, or show one")
    sessions.add_argument("show", nargs="?", metavar="ID", help="print this session's transcript")
    add_context_parser(sub)
    _add_models(sub)
    return parser


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
    )
    return load_config(repo_root, {k: getattr(args, k, None) for k in keys})


def cmd_fix(args: argparse.Namespace) -> int:
    from agent.console import ConsolePrinter
    from agent.engines import build_engine
    from agent.fix import FixRequest, FixRun
    from agent.report import render_text
    from sandbox.subprocess_sandbox import SubprocessSandbox

    repo = open_repo(args.repo)
    config = _config(args, Path(repo.working_tree_dir or args.repo))
    engine = build_engine(config, script=args.script)
    run = FixRun(engine, SubprocessSandbox(), config, ConsolePrinter(verbose=args.verbose))
    try:
        report = run.run(FixRequest(task=args.task, repo=repo, apply=args.apply))
    except KeyboardInterrupt:
        print("\ninterrupted: your repository is exactly as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(render_text(report))
    if report.status == "error":
        return EXIT_ENGINE
    return report.exit_code()


def cmd_apply(args: argparse.Namespace) -> int:
    from agent.workspace import apply_branch

    repo = open_repo(args.repo)
    files = apply_branch(repo, args.branch)
    print(f"applied {args.branch} to your working tree: {', '.join(files)}")
    return EXIT_OK


def cmd_tool(args: argparse.Namespace) -> int:
    from sandbox.subprocess_sandbox import SubprocessSandbox
    from tools.base import ToolContext
    from tools.registry import Toolbox, default_tools, run_tool_by_name

    toolbox = Toolbox(default_tools())
    if args.list or not args.name:
        print(json.dumps([spec.model_dump() for spec in toolbox.specs()], indent=2))
        return EXIT_OK
    repo = open_repo(args.repo)
    root = Path(repo.working_tree_dir or args.repo)
    config = load_config(root, {})
    ctx = ToolContext(
        root=root,
        sandbox=SubprocessSandbox(),
        test_command=config.test_command,
        command_timeout=config.command_timeout,
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


COMMANDS = {
    "fix": cmd_fix,
    "apply": cmd_apply,
    "tool": cmd_tool,
    "sessions": cmd_sessions,
    "context": run_context,
}


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = COMMANDS.get(args.command)
    try:
        if handler is None:
            from agent.models.cli import run_models

            return run_models(args, model_dirs=load_config(args.repo, {}).model_dirs)
        return handler(args)
    except (ConfigError, WorkspaceError, ModelNotFound, ContextTooSmall) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"agent: engine error: {exc}", file=sys.stderr)
        return EXIT_ENGINE


if __name__ == "__main__":
    sys.exit(main())
