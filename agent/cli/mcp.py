"""`agent mcp add|list|remove|serve`, and the MCP-aware toolbox `agent tool` uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent.cli.settings import settings_for
from agent.cli.trust import warn_untrusted
from agent.config import PROJECT_CONFIG, user_config_path
from agent.mcp.config import McpConfigError, McpServerConfig, add_server, check_name, remove_server
from agent.run.workspace import WorkspaceError, open_repo
from tools.registry import Toolbox

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_mcp_parser(sub: Any) -> None:
    mcp = sub.add_parser("mcp", help="MCP servers: add, list, remove; serve our tools over MCP")
    verbs = mcp.add_subparsers(dest="mcp_command", required=True)

    add = verbs.add_parser(
        "add",
        help="add a server: `add NAME -- CMD ARGS...` or `add NAME --url URL`",
        usage="agent mcp add NAME [options] -- CMD ARGS...\n       agent mcp add NAME --url URL [options]",
    )
    add.add_argument("name", help="the server's name (letters, digits, _, -; its tools: mcp__NAME__TOOL)")
    _add_options(add)
    add.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    listing = verbs.add_parser("list", help="configured servers; --tools starts them and lists their tools")
    listing.add_argument("--tools", action="store_true", help="start each server and list its tools")

    remove = verbs.add_parser("remove", help="remove a server from the user (or --project) config")
    remove.add_argument("name", help="the server's name")
    remove.add_argument("--project", action="store_true", help=f"remove it from's {PROJECT_CONFIG}")

    serve = verbs.add_parser("serve", help="serve repo_context and our sandboxed tools over MCP (stdio)")
    serve.add_argument("--read-only", action="store_true", help="only tools that change nothing")


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a streamable-HTTP server's endpoint")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="stdio environment")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE", help="HTTP header")
    parser.add_argument(
        "--approval",
        choices=["auto", "ask", "allow"],
        help="auto (default): ask for calls that act outside the sandbox; ask: for every call; allow: never",
    )
    parser.add_argument("--force", action="store_true", help="replace a server of the same name")
    parser.add_argument("--project", action="store_true", help=f"write the repository's {PROJECT_CONFIG}")


def _split_command(args: argparse.Namespace) -> list[str]:
    """Options after NAME go to `args`; what follows `--` is the server's command line."""
    rest = list(args.rest)
    if "--" in rest:
        options, command = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
    elif rest and rest[0].startswith("-"):
        options, command = rest, []
    else:
        options, command = [], rest  # argparse already dropped a leading `--`
    extra = argparse.ArgumentParser(prog="agent mcp add", add_help=False)
    _add_options(extra)
    extra.parse_args(options, namespace=args)
    return command


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise McpConfigError(f"{what} {item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def repo_root(repo: Path) -> Path | None:
    try:
        found = open_repo(repo)
    except WorkspaceError:
        return None
    return Path(found.working_tree_dir or repo)


def _config_file(args: argparse.Namespace) -> Path:
    if not args.project:
        return user_config_path()
    root = repo_root(args.repo)
    if root is None:
        raise McpConfigError(f"--project needs a git repository; {args.repo} is not one")
    return root / PROJECT_CONFIG


def cmd_add(args: argparse.Namespace) -> int:
    check_name(args.name)
    args.argv = _split_command(args)
    if bool(args.argv) == bool(args.url):
        raise McpConfigError("give a command after `--` (stdio) or --url URL (streamable HTTP), not both")
    fields: dict[str, Any] = {"env": _pairs(args.env, "--env"), "headers": _pairs(args.header, "--header")}
    if args.url:
        fields["url"] = args.url
    else:
        fields.update(command=args.argv[0], args=args.argv[1:])
    if args.approval:
        fields["approval"] = args.approval
    server = McpServerConfig.model_validate(fields)
    path = _config_file(args)
    add_server(path, args.name, server, replace=args.force)
    print(f"added MCP server '{args.name}' ({server.transport}: {server.describe()}) to {path}")
    if args.project:
        print(f"servers in {PROJECT_CONFIG} start only once you trust the file: run `agent trust`")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    path = _config_file(args)
    if remove_server(path, args.name):
        print(f"removed MCP server '{args.name}' from {path}")
        return EXIT_OK
    other = "the user config" if args.project else f"{PROJECT_CONFIG} (use --project)"
    print(f"agent: no MCP server '{args.name}' in {path}; it may be in {other}", file=sys.stderr)
    return EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    root = repo_root(args.repo)
    config = settings_for(args, root, {})
    warn_untrusted(config)
    if not config.mcp.servers:
        print("no MCP servers configured (agent mcp add NAME -- CMD ARGS... or agent mcp add NAME --url URL)")
        return EXIT_OK
    for name, server in config.mcp.servers.items():
        state = "" if server.enabled else "  (disabled)"
        print(f"{name:<16} {server.transport:<5} {server.describe()}{state}")
    if not args.tools:
        return EXIT_OK
    from agent.build import server_wrapper, tool_session

    with tool_session(config, root or args.repo, server_wrapper(config)) as toolbox:
        for spec in toolbox.specs():
            if spec.name.startswith("mcp__"):
                print(f"  {spec.name}: {spec.description.splitlines()[0] if spec.description else ''}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """The calling agent's commands run in the sandbox of `agent fix` (bubblewrap, the configured
    policy; `--read-only` is the read-only policy). Nobody here can approve a command, so
    `approval = "always"` refuses them."""
    from agent.build import served_tools, tool_sandboxes
    from agent.mcp.serve import ToolService, serve_stdio

    root = repo_root(args.repo)
    where = root or args.repo.resolve()
    overrides = {"sandbox": {"policy": "read-only" if args.read_only else None}}
    config = settings_for(args, root, overrides)
    sandbox = tool_sandboxes(config, open_repo(root) if root else None, approver=None).commands
    serve_stdio(ToolService(where, sandbox, Toolbox(served_tools(args.read_only)), config.loop.test_command))
    return EXIT_OK


COMMANDS = {"add": cmd_add, "list": cmd_list, "remove": cmd_remove, "serve": cmd_serve}


def run_mcp(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.mcp_command](args)
    except McpConfigError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
