"""The setup step's network (sandbox/egress.py): the internet through a proxy, never the host.

Real processes throughout: `agent fix` and `agent sandbox --setup` as subprocesses, the real
bubblewrap sandbox, real listeners on the host's loopback, its own address and an abstract unix
socket, and PyPI itself for the case that must get through.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import git
import pytest

from agent.build import setup_sandbox
from agent.cli.headless import report_from_stream
from agent.config import AgentConfig
from sandbox.config import SandboxConfig
from sandbox.egress import PROXIED, EgressProxy
from sandbox.select import run_setup
from tests.escape_support import SECRET_ENV, assert_contained, loopback_service, markers, probe_script
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git as run_git
from tests.repos import median_repo

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT
FETCH = """
import sys, urllib.request
for url in sys.argv[1:]:
    try:
        print(url, urllib.request.urlopen(url, timeout=30).status)
    except Exception as exc:
        print(url, "refused:", exc)
"""


def setup_run(repo: Path, command: str) -> str:
    """Run `command` as the repository's setup step; its output (status line included)."""
    config = AgentConfig(sandbox=SandboxConfig(setup_command=command))
    sandbox = setup_sandbox(config, git.Repo(repo))
    assert sandbox is not None and sandbox.mode == f"bubblewrap (workspace, {PROXIED})"
    result = run_setup(sandbox, command, repo, 120)
    return f"{result.output}exit {result.exit_code}"


def fetch(repo: Path, *urls: str) -> str:
    (repo / "fetch.py").write_text(FETCH)
    return setup_run(repo, " ".join([sys.executable, "fetch.py", *urls]))


def host_address() -> str:
    """This machine's own address on its default route (not loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # a route lookup only: nothing is sent
        return str(probe.getsockname()[0])


def test_the_setup_step_reaches_pypi_through_the_proxy(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    out = fetch(repo, "https://pypi.org/simple/iniconfig/")
    assert "https://pypi.org/simple/iniconfig/ 200" in out, out


def test_the_setup_step_cannot_reach_the_hosts_loopback_or_its_metadata_address(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    with loopback_service() as service:
        out = fetch(repo, f"https://127.0.0.1:{service.port}/", f"https://localhost:{service.port}/")
        assert out.count("this host (the sandbox may not reach its services)") == 2, out
        metadata = fetch(repo, "https://169.254.169.254/latest/meta-data/")
        assert "link-local (a cloud's metadata service lives there)" in metadata, metadata
        direct = setup_run(repo, service.shell())  # without the proxy: the sandbox's own loopback
        assert "unreachable" in direct and service.reached == 0


def test_the_setup_step_cannot_reach_a_service_on_the_hosts_own_address(tmp_path: Path) -> None:
    """A service bound to all interfaces answers on the host's LAN address too: still the host."""
    repo = median_repo(tmp_path / "r")
    address = host_address()
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        out = fetch(repo, f"https://{address}:{port}/")
        assert "this host (the sandbox may not reach its services)" in out, out
        direct = setup_run(repo, f"(echo > /dev/tcp/{address}/{port}) 2>/dev/null && echo reached || echo no")
        assert direct.startswith("no"), direct
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_the_setup_step_cannot_reach_the_hosts_abstract_unix_sockets(tmp_path: Path) -> None:
    """Abstract sockets belong to the network namespace: the host's (X11, D-Bus, containerd...)
    are out of reach from the setup step's own namespace."""
    repo = median_repo(tmp_path / "r")
    name = f"agent-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(f"\0{name}")
        listener.listen(1)
        code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect('\\0{name}'); print('reached')"
        out = setup_run(repo, f'{sys.executable} -c "{code}" 2>&1 | tail -1')
        assert "ConnectionRefusedError" in out and "reached" not in out, out


def test_agent_fix_names_the_setup_network_and_keeps_the_setup_off_the_host(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    with markers() as found, loopback_service() as service:
        setup = probe_script(found, service, "setup-saw.txt")
        (tmp_path / "xdg" / "local-agent").mkdir(parents=True)
        config = f"[sandbox]\nsetup_command = {json.dumps(setup)}\n"
        (tmp_path / "xdg" / "local-agent" / "config.toml").write_text(config)
        env = {**os.environ, **SECRET_ENV, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
        argv = [*AGENT, "--repo", str(repo), "fix", "median is wrong", "--script", str(SCRIPT), "--json"]
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env
        )
        banner = next(line for line in run.stderr.splitlines() if line.startswith("agent: scripted"))
        assert (
            f"sandbox bubblewrap (workspace, network off); setup: bubblewrap (workspace, {PROXIED})" in banner
        )
        report = report_from_stream(run.stdout)
        events = [json.loads(line) for line in run.stdout.splitlines()]
        notice = next(
            e["message"] for e in events if e["kind"] == "notice" and e["message"].startswith("setup `")
        )
        assert "exit code 0" in notice and PROXIED in notice
        assert "the model's commands: bubblewrap (workspace, network off)" in notice
        # the setup ran in the worktree: what it saw is on the agent's branch
        assert_contained(found, service, run_git(repo, "show", f"{report['branch']}:setup-saw.txt"))


def test_the_proxy_answers_only_connect(tmp_path: Path) -> None:
    """Plain-HTTP proxying (an absolute URL) would need the proxy to parse and forward requests
    itself; it is refused with a reason the client shows."""
    with EgressProxy(tmp_path / "p.sock"), socket.socket(socket.AF_UNIX) as client:
        client.connect(str(tmp_path / "p.sock"))
        client.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert client.recv(200).startswith(b"HTTP/1.1 403 only HTTPS (CONNECT) is proxied")
