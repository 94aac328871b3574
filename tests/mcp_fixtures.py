"""Starting the test MCP server (tests/data/mcp_servers.py) over stdio and over HTTP on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.mcp.config import McpServerConfig
from tests.paths import DATA

SERVER = DATA / "mcp_servers.py"  # a program: run from tests/, `mcp` would be tests/mcp


def stdio_server(mode: str = "stdio", log: Path | None = None, **settings: Any) -> McpServerConfig:
    args = [str(SERVER), mode, *(["--log", str(log)] if log else [])]
    return McpServerConfig(command=sys.executable, args=args, **settings)


def http_config(url: str, **settings: Any) -> McpServerConfig:
    return McpServerConfig(url=url, **settings)


def calls(log: Path) -> list[dict[str, Any]]:
    """The tool calls that reached the server."""
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(log: Path | None = None) -> Iterator[str]:
    """The test server on streamable HTTP at 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    argv = [sys.executable, str(SERVER), "http", "--port", str(port), *(["--log", str(log)] if log else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the test MCP HTTP server did not come up") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
