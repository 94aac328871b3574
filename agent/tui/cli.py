"""`agent tui`, `agent fix "..." --tui` and a bare `agent` in a terminal: building and running the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.engine import Engine
from sandbox.approval import Approver
from sandbox.base import Sandbox

AddFlags = Callable[[argparse.ArgumentParser], None]


def add_tui_parser(sub: Any, fix: argparse.ArgumentParser, add_engine_flags: AddFlags) -> None:
    """Register `agent tui` and the `--tui` flag of `agent fix`."""
    tui = sub.add_parser("tui", help="open the terminal UI (also: `agent` with no arguments)")
    tui.add_argument(
        "--resume", nargs="?", const="", metavar="ID", help="reopen a recorded session (none: choose one)"
    )
    tui.add_argument("--test-cmd", dest="test_command", help="command that runs the tests")
    tui.add_argument("--max-steps", type=int, dest="max_steps")
    add_engine_flags(tui)
    fix.add_argument("--tui", action="store_true", help="run the task in the terminal UI")


def wants_tui(args: argparse.Namespace) -> bool:
    """`agent tui`, `agent fix --tui`, or a bare `agent` whose output is a terminal."""
    if args.command is None:
        return sys.stdout.isatty()
    return args.command == "tui" or bool(getattr(args, "tui", False))


def build_sandbox(approver: Approver) -> Sandbox:
    """The run's sandbox. The subprocess backend asks nobody; a policy backend will take `approver`."""
    from sandbox.subprocess_sandbox import SubprocessSandbox

    del approver  # no policy layer yet: commands run without asking (see the README)
    return SubprocessSandbox()


def cmd_tui(args: argparse.Namespace, config_for: Callable[[argparse.Namespace, Path], AgentConfig]) -> int:
    from agent.engines import build_engine
    from agent.tui.app import AgentApp
    from agent.tui.bridge import TuiSetup
    from agent.tui.sessions import find_session
    from agent.workspace import open_repo

    repo = open_repo(args.repo)
    config = config_for(args, Path(repo.working_tree_dir or args.repo))
    resume_id = getattr(args, "resume", None)
    script = getattr(args, "script", None)

    def engine(say: Callable[[str], None]) -> Engine:
        return build_engine(config, script=script, say=say)

    setup = TuiSetup(
        repo=repo,
        config=config,
        build_engine=engine,
        build_sandbox=build_sandbox,
        task=getattr(args, "task", None),
        resume=find_session(repo, resume_id) if resume_id else None,
        pick_session=resume_id == "",
    )
    AgentApp(setup).run()
    return 0
