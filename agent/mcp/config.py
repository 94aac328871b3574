"""MCP server entries: `[mcp_servers.NAME]` tables in the user or project config file.

    [mcp_servers.docs]                     [mcp_servers.tracker]
    command = "uvx"                        url = "http://127.0.0.1:8931/mcp"
    args = ["docs-mcp", "--stdio"]         headers = { "X-Team" = "core" }
    env = { "DOCS_ROOT" = "docs" }

`agent mcp add/remove` edit the file with tomlkit, so the user's comments and layout stay as they were.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.errors import UserError

SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
TABLE = "mcp_servers"


class McpConfigError(UserError):
    """A wrong server name or entry, or a config file that cannot be edited."""


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    command: str | None = None
    """stdio: the program to start (inside the sandbox)."""
    args: list[str] = []
    """stdio: the program's arguments."""
    env: dict[str, str] = {}
    """stdio: environment variables passed as given (the rest of the environment is scrubbed)."""
    cwd: str | None = None
    """stdio: working directory, relative to the repository (default: its root)."""
    url: str | None = None
    """Streamable HTTP endpoint, e.g. http://127.0.0.1:8931/mcp."""
    headers: dict[str, str] = {}
    """HTTP: extra request headers."""
    enabled: bool = True
    """Start the server and offer its tools."""
    enabled_tools: list[str] | None = None
    """Only these of the server's tools (default: all)."""
    startup_timeout: float = Field(20.0, gt=0)
    """Seconds to start, initialize and list the tools."""
    tool_timeout: float = Field(60.0, gt=0)
    """Seconds one tool call may take."""
    network: bool = False
    """stdio: ask the sandbox for network access (policy permitting)."""
    approval: Literal["auto", "ask", "allow"] = "auto"
    """"auto": ask for calls acting outside the sandbox unless read-only; "ask": every call; "allow": none."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (stdio) or `url` (streamable HTTP)")
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    def describe(self) -> str:
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return str(self.url)


def check_name(name: str) -> str:
    if not SERVER_NAME.match(name):
        raise McpConfigError(
            f"invalid MCP server name {name!r}: use 1-32 letters, digits, '_' or '-' (it becomes part of "
            "the tool names, mcp__NAME__TOOL)"
        )
    return name


def _load(path: Path) -> Any:  # a tomlkit document (imported here: only `agent mcp add/remove` need it)
    import tomlkit

    if not path.is_file():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.ParseError) as exc:
        raise McpConfigError(f"cannot read config file {path}: {exc}") from exc


def add_server(path: Path, name: str, server: McpServerConfig, replace: bool = False) -> None:
    """Write `[mcp_servers.NAME]` into the config file at `path` (created if missing); a NAME already
    there is an error unless `replace`."""
    import tomlkit

    check_name(name)
    doc = _load(path)
    servers = doc.setdefault(TABLE, tomlkit.table(is_super_table=True))
    if name in servers and not replace:
        raise McpConfigError(
            f"an MCP server named '{name}' is already in {path}; add --force to replace it, "
            f"or choose another name (`agent mcp list` shows them)"
        )
    entry = tomlkit.table()
    for key, value in server.model_dump(exclude_defaults=True).items():
        entry[key] = value
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def remove_server(path: Path, name: str) -> bool:
    """Drop `[mcp_servers.NAME]` from the file; False when it was not there."""
    import tomlkit

    doc = _load(path)
    servers: Any = doc.get(TABLE)
    if servers is None or name not in servers:
        return False
    del servers[name]
    if not servers:
        del doc[TABLE]
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return True
