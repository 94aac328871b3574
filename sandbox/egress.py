"""Internet without the host: an HTTPS proxy that never connects to the machine it runs on.

Bubblewrap can give a sandbox the host's network namespace (everything: the internet, but also the
host's loopback services, abstract unix sockets and its own addresses) or a namespace of its own (a
loopback of its own and nothing else). The setup step needs PyPI, not the host, so it runs in a
namespace of its own and reaches out through this proxy:

- `EgressProxy` (on the host) listens on a unix socket in a private directory, answers
  `CONNECT host:port`, resolves the host itself and connects only when no address the name resolves
  to is this host (loopback, or any address of its own: the kernel routes it locally), link-local
  (169.254.169.254, a cloud's metadata service), unspecified, multicast or reserved; otherwise a 403
  names why. Private and other non-public addresses stay reachable (a LAN mirror, a gateway that
  serves PyPI). Plain-HTTP proxying is refused: HTTPS only.
- sandbox/egress_forward.py (in the sandbox) listens on the sandbox's own 127.0.0.1, forwards each
  connection to that socket (the directory is bound in read-only), and runs the command with
  HTTPS_PROXY/HTTP_PROXY pointing at itself. pip, uv, git, curl and npm honour those variables; a
  program that ignores them has no network at all.

`ProxiedNetwork` wraps a network-off sandbox so that each command runs with its own proxy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from sandbox.base import CommandResult, Sandbox
from sandbox.subprocess_sandbox import argv_for, display

FORWARDER = str(Path(__file__).with_name("egress_forward.py"))
PROXIED = "network through an HTTPS proxy: not this host's loopback or addresses, nor link-local"
HEAD_LIMIT = 16384
CONNECT_TIMEOUT = 20.0
IDLE_TIMEOUT = 300.0
ACCEPT_POLL = 0.2
SOCKET_PARENT = "/tmp" if Path("/tmp").is_dir() else None
PROXY_FAILED_EXIT_CODE = 126


class Refused(Exception):
    """A destination the proxy does not connect to; the message is sent back as the 403's reason."""


def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _on_this_host(family: int, address: str, port: int) -> bool:
    """Whether the kernel would deliver to `address` locally: a route lookup (a UDP connect sends
    nothing) picks the destination itself as the source only for the machine's own addresses."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, port))
            return _parsed(str(probe.getsockname()[0])) == _parsed(address)
    except OSError:
        return False  # no route: the connect fails on its own


def refusal(family: int, address: str, port: int) -> str | None:
    """Why the proxy does not connect to `address`, or None."""
    ip = _parsed(address)
    if ip.is_loopback or ip.is_unspecified or _on_this_host(family, address, port):
        return "this host (the sandbox may not reach its services)"
    if ip.is_link_local:
        return "link-local (a cloud's metadata service lives there)"
    if ip.is_multicast or ip.is_reserved:
        return "multicast or reserved"
    return None


def checked_address(host: str, port: int) -> tuple[int, str]:
    """(family, address) to connect to, when no address `host` resolves to is refused."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from exc
    if not found:
        raise Refused(f"{host} resolves to no address")
    for family, _kind, _proto, _name, sockaddr in found:
        why = refusal(family, str(sockaddr[0]), port)
        if why:
            raise Refused(f"{host} resolves to {sockaddr[0]}: {why}")
    family, _kind, _proto, _name, sockaddr = found[0]
    return family, str(sockaddr[0])


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk or len(head) > HEAD_LIMIT:
            raise Refused("incomplete or oversized request")
        head += chunk
    return head


def _target(head: bytes) -> tuple[str, int]:
    words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(words) != 3 or words[0].upper() != "CONNECT":
        raise Refused("only HTTPS (CONNECT) is proxied")
    host, sep, port = words[1].rpartition(":")
    if not sep or not port.isdigit():
        raise Refused(f"bad CONNECT target {words[1]!r}")
    return host.strip("[]"), int(port)


def pump(left: socket.socket, right: socket.socket) -> None:
    """Copy bytes both ways until one side closes or both stay idle for IDLE_TIMEOUT."""
    peers = {left: right, right: left}
    while True:
        ready, _, _ = select.select(list(peers), [], [], IDLE_TIMEOUT)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


def _serve_one(conn: socket.socket) -> None:
    with conn:
        try:
            conn.settimeout(CONNECT_TIMEOUT)
            host, port = _target(_read_head(conn))
            family, address = checked_address(host, port)
            upstream = socket.socket(family, socket.SOCK_STREAM)
            upstream.settimeout(CONNECT_TIMEOUT)
            upstream.connect((address, port))
        except (Refused, OSError) as exc:
            reason = str(exc).replace("\r", " ").replace("\n", " ")[:200]
            with contextlib.suppress(OSError):
                conn.sendall(
                    f"HTTP/1.1 403 {reason}\r\nContent-Length: 0\r\n\r\n".encode("latin-1", "replace")
                )
            return
        with upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.settimeout(None)
            upstream.settimeout(None)
            with contextlib.suppress(OSError):
                pump(conn, upstream)


class EgressProxy:
    """The host side: listens on `path` (a unix socket) while the `with` block runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="egress-proxy", daemon=True)

    def start(self) -> None:
        """Listen (OSError when the socket cannot be made) and serve on a daemon thread."""
        try:
            self._sock.bind(str(self.path))
            self._sock.listen(64)
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(ACCEPT_POLL)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept at once
        self._thread.join(ACCEPT_POLL * 5)
        self._sock.close()

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=_serve_one, args=(conn,), name="egress-conn", daemon=True).start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ProxiedNetwork:
    """A sandbox whose commands reach the internet through their own `EgressProxy` only.

    `isolation(folder)` builds the network-off sandbox a command runs in, given the private
    directory holding the proxy's socket (it must be readable inside); a new one per command.
    """

    def __init__(self, isolation: Callable[[Path], Sandbox], label: str) -> None:
        self.isolation = isolation
        self.label = label  # the mode, naming PROXIED as its network

    @property
    def mode(self) -> str:
        return self.label

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        shown = display(command)
        # a short path: a unix socket's is at most 107 bytes, and a long TMPDIR would pass that
        with tempfile.TemporaryDirectory(prefix="agent-egress-", dir=SOCKET_PARENT) as folder:
            path = Path(folder) / "proxy.sock"
            proxy = EgressProxy(path)
            try:
                proxy.start()
            except OSError as exc:
                message = f"cannot start the network proxy for this command: {exc}\n"
                return CommandResult(command=shown, exit_code=PROXY_FAILED_EXIT_CODE, output=message)
            try:
                argv = [sys.executable, "-I", "-S", FORWARDER, str(path), "--", *argv_for(command)]
                result = self.isolation(Path(folder)).run(argv, cwd, timeout, env)
            finally:
                proxy.stop()
        return result.model_copy(update={"command": shown})
