"""`agent sandbox [--policy P] -- CMD ARGS...`: run one command exactly as the agent would.

Prints the command's capped output, then its exit status, the limits it hit and the sandbox mode,
so a user can check what their policy allows. `agent sandbox --setup` runs the configured
`setup_command` the way `agent fix` does before its first step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent.build import approve_by_hand, command_sandbox, probe, setup_sandbox, warn
from agent.cli.config_check import positive_seconds
from agent.cli.settings import settings_for
from agent.cli.trust import warn_untrusted
from agent.run.workspace import WorkspaceError, open_repo
from sandbox.base import CommandResult
from sandbox.bubblewrap import POLICIES
from sandbox.select import run_setup
from tools.base import command_env_for

LIMIT_LINES = {
    "timeout": "wall-clock timeout (the whole process tree was killed)",
    "cpu": "CPU time (SIGXCPU)",
    "file_size": "file size (SIGXFSZ)",
    "memory": "address space (an allocation was refused)",
    "processes": "number of processes (a fork was refused)",
    "output": "output length (the middle was elided)",
}


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sandbox")
    group.add_argument(
        "--sandbox", dest="sandbox_backend", choices=("bubblewrap", "none"), help="isolation backend"
    )
    group.add_argument("--policy", dest="sandbox_policy", choices=POLICIES, help="what commands may do")
    group.add_argument(
        "--sandbox-read",
        dest="sandbox_read",
        action="append",
        metavar="PATH",
        help="a host path commands may read, added to [sandbox] read_paths (repeatable)",
    )


def sandbox_overrides(args: argparse.Namespace) -> dict[str, Any]:
    backend = getattr(args, "sandbox_backend", None)
    policy = getattr(args, "sandbox_policy", None)
    return {"sandbox": {"backend": backend, "policy": policy}}


def add_sandbox_parser(sub: Any) -> None:
    parser = sub.add_parser("sandbox", help="run a command in the sandbox exactly as the agent would")
    add_sandbox_flags(parser)
    parser.add_argument("--timeout", type=positive_seconds, help="seconds before the command is killed")
    parser.add_argument("--setup", action="store_true", help="run the configured setup_command instead")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command")


def _report(result: CommandResult, mode: str, out: Any) -> None:
    if result.output:
        out.write(result.output if result.output.endswith("\n") else result.output + "\n")
    out.write(f"-- exit status: {result.exit_code}{' (timed out)' if result.timed_out else ''}\n")
    hits = [LIMIT_LINES.get(name, name) for name in result.limits_hit]
    out.write(f"-- limits hit: {', '.join(hits) if hits else 'none'}\n")
    if result.truncated_chars:
        out.write(f"-- output: {result.truncated_chars} characters elided\n")
    out.write(f"-- sandbox: {mode}, {result.seconds:.3f}s\n")


def cmd_sandbox(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    try:
        repo = open_repo(args.repo)
        root = Path(repo.working_tree_dir or args.repo)
    except WorkspaceError:
        repo, root = None, Path(args.repo).resolve()
    config = settings_for(args, root if repo else None, sandbox_overrides(args))
    warn_untrusted(config)
    timeout = args.timeout or config.loop.command_timeout
    bwrap = probe(config)
    warn(config, sys.stderr)
    if args.setup:
        setup = setup_sandbox(config, repo, bwrap)
        if setup is None or not config.sandbox.setup_command:
            print(
                "agent: no setup_command configured (set it under [sandbox] in .agent.toml)", file=sys.stderr
            )
            return 2
        result = run_setup(setup, config.sandbox.setup_command, root, config.sandbox.setup_timeout)
        _report(result, setup.mode, sys.stdout)
        return min(result.exit_code, 255)
    if not argv:
        print("agent: give the command after --, e.g. `agent sandbox -- ls ~`", file=sys.stderr)
        return 2
    sandbox = command_sandbox(config, repo, approve_by_hand, "run by hand", bwrap)
    command = argv[0] if len(argv) == 1 and " " in argv[0] else argv
    result = sandbox.run(command, root, timeout, env=command_env_for(root))
    _report(result, sandbox.mode, sys.stdout)
    return min(result.exit_code, 255)
