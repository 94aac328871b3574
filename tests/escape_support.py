"""What the host-side escape cases share: markers that only a process on the host could leave, a
secret in the agent's environment, and a loopback TCP service that records who reached it.

A case plants a marker outside the repository ($HOME, /tmp) from a command, a server or a test. In
the sandbox those are private tmpfs, so the write succeeds there and vanishes; on the host it would
stay. The same code also writes what it saw into the worktree (writable, visible from the host), so
a case proves the code ran, inside, and is never vacuous.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.paths import DATA

SECRET = f"sk-host-secret-{uuid.uuid4().hex[:12]}"
SECRET_ENV = {"OPENAI_API_KEY": SECRET, "GITHUB_TOKEN": f"ghp_{SECRET}"}
SERVER = DATA / "mcp_servers.py"  # a program: run from tests/, `mcp` would be tests/mcp


@dataclass
class Markers:
    """A unique file name planted in $HOME and /tmp by the code under test (never by the host)."""

    name: str = field(default_factory=lambda: f"escape-marker-{uuid.uuid4().hex[:12]}")

    @property
    def paths(self) -> list[Path]:
        return [Path.home() / self.name, Path("/tmp") / self.name]

    def on_host(self) -> list[Path]:
        return [p for p in self.paths if p.exists()]

    def shell(self) -> str:
        """A shell snippet writing the marker to both places; prints `planted` when both writes worked."""
        return f'echo escaped > "$HOME/{self.name}" && echo escaped > /tmp/{self.name} && echo planted'


@contextmanager
def markers() -> Iterator[Markers]:
    found = Markers()
    try:
        yield found
    finally:
        for path in found.on_host():  # an escape happened: the test fails; leave the host clean
            path.unlink()


class LoopbackService:
    """A TCP listener on the host's 127.0.0.1; `reached` counts the connections it accepted."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.reached = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.reached += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def shell(self) -> str:
        """A shell snippet trying to connect; prints `connected` or `unreachable`."""
        return f"(echo hi > /dev/tcp/127.0.0.1/{self.port}) 2>/dev/null && echo connected || echo unreachable"


@contextmanager
def loopback_service() -> Iterator[LoopbackService]:
    service = LoopbackService()
    try:
        yield service
    finally:
        service.close()


def probe_script(found: Markers, service: LoopbackService, report: str) -> str:
    """Shell that tries all three escapes and writes what happened to `report` (relative: the
    working directory, visible from the host)."""
    return (
        f"{{ {found.shell()}; {service.shell()}; "
        f'echo "key=${{OPENAI_API_KEY:-absent}} token=${{GITHUB_TOKEN:-absent}}"; }} > {report} 2>&1'
    )


def server_config(script: str) -> str:
    """A user config with one MCP stdio server that runs `script` first, then serves the test tools."""
    command = f"{script}; exec {sys.executable} {SERVER} stdio"
    return f'[mcp_servers.probe]\ncommand = "bash"\nargs = {json.dumps(["-c", command])}\n'


def assert_contained(found: Markers, service: LoopbackService, seen: str) -> None:
    """The code ran (it planted its markers inside) and nothing reached the host."""
    assert "planted" in seen, seen  # the writes worked, in the sandbox's private $HOME and /tmp
    assert found.on_host() == [], "a marker appeared on the host: the code ran outside the sandbox"
    assert "unreachable" in seen and service.reached == 0, seen
    assert "key=absent token=absent" in seen and SECRET not in seen, seen
