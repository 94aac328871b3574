"""`agent tool NAME --args JSON` and `agent tool --list`: one tool by hand, exactly as the agent runs it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent.cli.sandbox import add_sandbox_flags, sandbox_overrides
from agent.cli.settings import settings_for
from agent.cli.trust import warn_untrusted
from agent.run.exitcodes import EXIT_NOT_RESOLVED, EXIT_OK
from agent.run.workspace import open_repo


def add_tool_parser(sub: Any) -> None:
    tool = sub.add_parser("tool", help="run one tool by hand, exactly as the agent would")
    tool.add_argument("name", nargs="?", help="the tool to run (see --list)")
    tool.add_argument("--args", default="{}", help="tool arguments as a JSON object")
    tool.add_argument("--list", action="store_true", help="list the tools and their JSON schemas")
    tool.add_argument("--json", action="store_true", help="print the structured result")
    add_sandbox_flags(tool)


def cmd_tool(args: argparse.Namespace) -> int:
    from agent.build import approve_by_hand, tool_sandboxes, tool_session
    from agent.cli.mcp import repo_root
    from tools.base import ToolContext
    from tools.registry import run_tool_by_name

    listing = args.list or not args.name
    root = repo_root(args.repo) if listing else Path(open_repo(args.repo).working_tree_dir or args.repo)
    config = settings_for(args, root, sandbox_overrides(args))
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
            test_command=config.loop.test_command,
            command_timeout=config.loop.command_timeout,
            writable=config.sandbox.policy != "read-only",
        )
        outcome = run_tool_by_name(toolbox, args.name, args.args, ctx)
    if args.json:
        print(outcome.model_dump_json(indent=2))
    else:
        print(outcome.result.output)
    return EXIT_OK if outcome.error is None and outcome.result.ok else EXIT_NOT_RESOLVED
