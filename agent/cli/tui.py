"""`agent tui`, `agent fix "..." --tui` and a bare `agent` in a terminal: building and running the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import AgentConfig
from agent.engines.base import Engine
from sandbox.approval import Approver

if TYPE_CHECKING:  # every `agent` command imports this module: Textual only when the app runs
    import git

    from agent.run.sandboxes import RunSandboxes
    from agent.tui.bridge import SandboxFactory

AddFlags = Callable[[argparse.ArgumentParser], None]
TUI_ASKER = "asked in the TUI"


def add_tui_parser(sub: Any, fix: argparse.ArgumentParser, add_engine_flags: AddFlags) -> None:
    """Register `agent tui` and the `--tui` flag of `agent fix`."""
    tui = sub.add_parser("tui", help="open the terminal UI (also: `agent` with no arguments)")
    tui.add_argument(
        "--resume", nargs="?", const="", metavar="ID", help="reopen a recorded session (none: choose one)"
    )
    tui.add_argument("--test-cmd", dest="test_command", help="command that runs the tests")
    tui.add_argument(
        "--python",
        help="the interpreter that runs the tests (default: found: $VIRTUAL_ENV, .venv/, uv, poetry...)",
    )
    tui.add_argument("--max-steps", type=int, dest="max_steps", help="model turns a run may take")
    add_engine_flags(tui)
    fix.add_argument("--tui", action="store_true", help="run the task in the terminal UI")


def wants_tui(args: argparse.Namespace) -> bool:
    """`agent tui`, `agent fix --tui`, or a bare `agent` whose output is a terminal."""
    if args.command is None:
        return sys.stdout.isatty()
    return args.command == "tui" or bool(getattr(args, "tui", False))


def sandbox_factory(config: AgentConfig, repo: git.Repo) -> SandboxFactory:
    """Each task's sandboxes (agent/build.py), given the approver that shows the approval modal:
    with `approval = "always"` every command waits for the user's answer. Bubblewrap is probed
    now (SandboxUnavailable names the fix); the warnings go to the terminal before the app."""
    from agent.build import probe, run_sandboxes, warn

    bwrap = probe(config)
    warn(config, sys.stderr)

    def build(approver: Approver) -> RunSandboxes:
        return run_sandboxes(config, repo, approver, TUI_ASKER, bwrap)

    return build


def cmd_tui(args: argparse.Namespace, config_for: Callable[[argparse.Namespace, Path], AgentConfig]) -> int:
    from agent.build import build_engine
    from agent.run.workspace import open_repo
    from agent.tui.app import AgentApp
    from agent.tui.bridge import TuiSetup
    from agent.tui.sessions import find_session

    repo = open_repo(args.repo)
    config = config_for(args, Path(repo.working_tree_dir or args.repo))
    resume_id = getattr(args, "resume", None)
    script = getattr(args, "script", None)
    sandboxes = sandbox_factory(config, repo)  # SandboxUnavailable before the app takes the screen

    def engine(say: Callable[[str], None]) -> Engine:
        return build_engine(config, script=script, say=say)

    setup = TuiSetup(
        repo=repo,
        config=config,
        build_engine=engine,
        build_sandboxes=sandboxes,
        task=getattr(args, "task", None),
        resume=find_session(repo, resume_id) if resume_id else None,
        pick_session=resume_id == "",
    )
    AgentApp(setup).run()
    return 0
