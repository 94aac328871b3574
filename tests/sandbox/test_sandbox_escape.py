"""The escape suite: real attack commands through the real bubblewrap sandbox and the real tools.

Every case runs in an agent-style worktree (`<repo>/.git/.agent/worktrees/s1`, the layout `agent fix`
uses) through the `shell` tool or a file tool, exactly as a model's call would run, and asserts three
things: the attack was contained (the host is unchanged), the model got a clear result, and this
process is unharmed (`unharmed` fixture: it can still fork, and a sentinel process it started is
still alive, so a `kill -9 -1` inside reached nothing outside).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.messages import ToolCall
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, probe_bwrap
from sandbox.subprocess_sandbox import Limits
from tests.repos import git, median_repo, snapshot
from tools.base import ToolContext
from tools.registry import Toolbox, ToolOutcome, default_tools

TOOLBOX = Toolbox(default_tools())


@pytest.fixture(scope="module")
def bwrap() -> BwrapInfo:
    return probe_bwrap()


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    return median_repo(tmp_path / "checkout")


@pytest.fixture
def worktree(user_repo: Path) -> Path:
    path = user_repo / ".git" / ".agent" / "worktrees" / "s1"
    git(user_repo, "worktree", "add", "-q", "-b", "agent/escape", str(path))
    return path


@pytest.fixture
def unharmed() -> Iterator[None]:
    sentinel = subprocess.Popen(["sleep", "600"])
    try:
        yield
        assert sentinel.poll() is None, "a process outside the sandbox was killed"
        assert subprocess.run(["true"]).returncode == 0, "this process can no longer fork"
    finally:
        sentinel.kill()
        sentinel.wait()


def context(worktree: Path, bwrap: BwrapInfo, **kw) -> ToolContext:
    sandbox = BubblewrapSandbox(bwrap=bwrap, **kw)
    return ToolContext(root=worktree, sandbox=sandbox, command_timeout=20)


def shell(ctx: ToolContext, command: str, timeout: float | None = None) -> ToolOutcome:
    arguments: dict[str, object] = {"command": command}
    if timeout:
        arguments["timeout"] = timeout
    return TOOLBOX.call(ToolCall(id="t", name="shell", arguments=arguments), ctx)


def tool(ctx: ToolContext, name: str, **arguments: object) -> ToolOutcome:
    return TOOLBOX.call(ToolCall(id="t", name=name, arguments=arguments), ctx)


def processes_named(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def planted_home_secret() -> Iterator[tuple[Path, str]]:
    secret = f"home-secret-{uuid.uuid4().hex}"
    path = Path.home() / f".local-agent-escape-{uuid.uuid4().hex[:8]}"
    path.write_text(secret)
    try:
        yield path, secret
    finally:
        path.unlink(missing_ok=True)


# --- writing outside the worktree ------------------------------------------------------------


def test_writes_to_the_home_directory_never_reach_it(worktree, bwrap, unharmed) -> None:
    target = Path.home() / f"escape-{uuid.uuid4().hex[:8]}"
    bashrc = Path.home() / ".bashrc"
    before = bashrc.read_bytes() if bashrc.exists() else None
    result = shell(context(worktree, bwrap), f"echo pwned > {target}; echo pwned >> ~/.bashrc; ls -A ~")
    assert not target.exists()
    assert (bashrc.read_bytes() if bashrc.exists() else None) == before
    assert result.result.output.startswith("[exit code 0]")  # it wrote into an empty private home


def test_writes_to_etc_and_usr_are_refused(worktree, bwrap, unharmed) -> None:
    result = shell(context(worktree, bwrap), "touch /etc/escape; echo x > /usr/escape; rm -f /etc/hostname")
    assert not Path("/etc/escape").exists() and not Path("/usr/escape").exists()
    assert Path("/etc/hostname").exists()
    assert result.result.output.count("Read-only file system") == 3 and not result.result.ok


def test_the_users_original_checkout_is_read_only(user_repo, worktree, bwrap, unharmed) -> None:
    before = snapshot(user_repo)
    command = f"echo broken > {user_repo}/stats.py; echo x >> ../../../../stats.py; touch {user_repo}/new"
    result = shell(context(worktree, bwrap), command)
    assert snapshot(user_repo) == before
    assert result.result.output.count("Read-only file system") == 3 and not result.result.ok


def test_git_hooks_and_the_dot_git_pointer_cannot_be_planted(user_repo, worktree, bwrap, unharmed) -> None:
    """A hook, or a `.git` file pointing at a crafted config, would run code on the host the next
    time the agent (or the user) runs git outside the sandbox."""
    pointer = (worktree / ".git").read_text()
    hooks = user_repo / ".git" / "hooks"
    command = (
        "echo 'touch /tmp/pwned' > \"$(git rev-parse --git-common-dir)/hooks/pre-commit\"; "
        "echo 'gitdir: /tmp/evil' > .git; git config core.fsmonitor 'touch /tmp/pwned'"
    )
    result = shell(context(worktree, bwrap), command)
    assert not (hooks / "pre-commit").exists()
    assert (worktree / ".git").read_text() == pointer
    assert "fsmonitor" not in (user_repo / ".git" / "config").read_text()
    assert "Read-only file system" in result.result.output and not result.result.ok


def test_hard_links_to_host_files_cannot_be_made(worktree, bwrap, unharmed) -> None:
    result = shell(context(worktree, bwrap), "ln /etc/hostname hostname-link")
    assert not (worktree / "hostname-link").exists() and not result.result.ok
    assert (
        "Invalid cross-device link" in result.result.output
        or "Operation not permitted" in result.result.output
    )


# --- reading secrets ----------------------------------------------------------------------------


def test_a_secret_in_the_home_directory_cannot_be_read(
    worktree, bwrap, planted_home_secret, unharmed
) -> None:
    path, secret = planted_home_secret
    result = shell(context(worktree, bwrap), f"cat {path}; cat ~/{path.name}; grep -r home-secret ~ /root")
    assert secret not in result.result.output
    assert "No such file or directory" in result.result.output and not result.result.ok


def test_a_secret_next_to_the_repository_cannot_be_read(tmp_path, worktree, bwrap, unharmed) -> None:
    secret = f"tmp-secret-{uuid.uuid4().hex}"
    (tmp_path / "credentials.txt").write_text(secret)
    result = shell(context(worktree, bwrap), f"cat {tmp_path}/credentials.txt; ls {tmp_path}")
    assert secret not in result.result.output and "No such file or directory" in result.result.output


def test_environment_secrets_never_reach_a_command(worktree, bwrap, monkeypatch, unharmed) -> None:
    secrets = {"GITHUB_TOKEN": "ghp_x1", "OPENAI_API_KEY": "sk-x2", "AWS_SECRET_ACCESS_KEY": "aws-x3"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    command = (
        f"env; cat /proc/{os.getpid()}/environ /proc/{os.getppid()}/environ; tr '\\0' '\\n' < /proc/1/environ"
    )
    result = shell(context(worktree, bwrap), command)
    for name, value in secrets.items():
        assert name not in result.result.output and value not in result.result.output
    assert "PATH=" in result.result.output


# --- network --------------------------------------------------------------------------------------


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[bytes]]]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        thread.join()
        server.close()


def _connect(port: int) -> str:
    return (
        "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f"{port}), timeout=3); s.sendall(b'leak'); print('connected')\""
    )


def test_no_tcp_connection_to_a_loopback_server_without_the_network_policy(
    worktree, bwrap, loopback_server, unharmed
) -> None:
    port, received = loopback_server
    result = shell(context(worktree, bwrap), _connect(port))
    assert received == [] and "connected" not in result.result.output
    assert "ConnectionRefusedError" in result.result.output and not result.result.ok


def test_the_network_policy_is_the_only_way_to_reach_it(worktree, bwrap, loopback_server, unharmed) -> None:
    port, received = loopback_server
    result = shell(context(worktree, bwrap, policy="network"), _connect(port))
    assert "connected" in result.result.output and result.result.ok
    deadline = time.monotonic() + 3
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert received == [b"leak"]


def test_host_unix_sockets_are_out_of_reach(worktree, bwrap, unharmed) -> None:
    """/run (docker, ssh-agent, D-Bus) and /dev/shm are private: a host socket there is not visible."""
    path = Path("/dev/shm") / f"local-agent-{uuid.uuid4().hex[:8]}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    try:
        command = f"ls -A /run; python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('{path}')\""
        result = shell(context(worktree, bwrap), command)
    finally:
        server.close()
        path.unlink()
    assert "FileNotFoundError" in result.result.output and not result.result.ok


# --- resources -------------------------------------------------------------------------------------


def test_a_fork_bomb_is_stopped_by_the_process_limit(worktree, bwrap, unharmed) -> None:
    sandbox = BubblewrapSandbox(bwrap=bwrap, limits=Limits(processes=64))
    assert sandbox.process_limit.startswith("64")  # enforced here (cgroup or RLIMIT_NPROC)
    ctx = ToolContext(root=worktree, sandbox=sandbox, command_timeout=20)
    before = len(processes_named(""))
    started = time.monotonic()
    # the bomb's own forks and the final `sleep` retry while the limit holds: it ends by itself or
    # at the 5 s timeout, whichever comes first (a loaded machine makes the retries slower)
    result = shell(ctx, "bomb() { bomb | bomb & }; bomb; sleep 1; echo still-here", timeout=5)
    assert time.monotonic() - started < 12
    assert "limit hit: number of processes" in result.result.output
    assert "processes" in result.result.data["limits_hit"]
    time.sleep(0.2)
    assert len(processes_named("")) <= before + 5  # nothing left behind


def test_a_memory_hog_is_stopped_by_the_address_space_limit(worktree, bwrap, unharmed) -> None:
    ctx = context(worktree, bwrap, limits=Limits(address_space_bytes=1 << 30))
    hog = 'python3 -c "chunks = []\nwhile True: chunks.append(bytearray(64 << 20))"'
    result = shell(ctx, hog)
    assert "MemoryError" in result.result.output and "limit hit: memory" in result.result.output
    assert not result.result.ok and result.result.data["seconds"] < 15


def test_a_disk_filler_in_the_worktree_is_stopped_by_the_file_size_limit(worktree, bwrap, unharmed) -> None:
    ctx = context(worktree, bwrap, limits=Limits(file_size_bytes=16 << 20))
    result = shell(ctx, "head -c 200000000 /dev/zero > big.bin")
    assert (worktree / "big.bin").stat().st_size <= 16 << 20
    assert "limit hit: file size" in result.result.output and result.result.data["exit_code"] == 128 + 25


def test_a_disk_filler_in_tmp_fills_only_its_small_private_tmpfs(worktree, bwrap, unharmed) -> None:
    ctx = context(worktree, bwrap, tmpfs_bytes=32 << 20)
    free_before = os.statvfs("/tmp").f_bavail
    result = shell(ctx, "head -c 200000000 /dev/zero > /tmp/fill; ls -la /tmp/fill")
    assert "No space left on device" in result.result.output
    assert os.statvfs("/tmp").f_bavail >= free_before - 1000  # the host's /tmp did not fill


def test_an_infinite_loop_is_killed_at_the_timeout(worktree, bwrap, unharmed) -> None:
    started = time.monotonic()
    result = shell(context(worktree, bwrap), "while :; do :; done", timeout=1)
    assert time.monotonic() - started < 5
    assert result.result.output.startswith("[timed out after 1s") and result.result.data["timed_out"]


def test_runaway_output_is_capped_head_and_tail(worktree, bwrap, unharmed) -> None:
    ctx = context(worktree, bwrap, output_limit=4000)
    result = shell(ctx, "echo FIRST; yes | head -c 50000000; echo LAST")
    output = result.result.output
    assert "FIRST" in output and output.rstrip().endswith("LAST") and "characters elided" in output
    assert len(output) < 6000 and "limit hit: output length" in output


# --- processes that try to outlive or attack their parent ------------------------------------------


def test_killing_the_parent_and_everything_reaches_nothing_outside(worktree, bwrap, unharmed) -> None:
    command = f"kill -9 {os.getpid()}; kill -9 $PPID; kill -9 -1; pkill -9 sleep; echo survived"
    result = shell(context(worktree, bwrap), command)
    assert "survived" in result.result.output
    assert os.getpid() > 0  # still running this test: the fixture checks the sentinel too


def test_background_processes_do_not_outlive_the_command(worktree, bwrap, unharmed) -> None:
    marker = f"{300 + uuid.uuid4().int % 1000}.{os.getpid()}"
    command = (
        f"(sleep {marker} &); nohup sleep {marker} >/dev/null 2>&1 & setsid sleep {marker} & "
        "disown -a; echo started"
    )
    result = shell(context(worktree, bwrap), command)
    assert result.result.ok and result.result.data["seconds"] < 5
    time.sleep(0.2)
    assert processes_named(f"sleep {marker}") == []


def test_a_delayed_write_after_the_command_returns_never_happens(worktree, bwrap, unharmed) -> None:
    """A background job that would change the worktree after the tools checked it (a symlink swap,
    a late edit) dies with the command."""
    result = shell(context(worktree, bwrap), "(sleep 0.5; echo late > late.txt; ln -s /etc swap) & echo ok")
    assert result.result.ok
    time.sleep(1.0)
    assert not (worktree / "late.txt").exists() and not (worktree / "swap").exists()


def test_no_privileges_to_regain(worktree, bwrap, unharmed) -> None:
    command = (
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; unshare -U true && echo nested-userns; "
        "mount -o remount,rw / 2>&1 && echo remounted; mount -t tmpfs none /mnt 2>&1 && echo mounted"
    )
    output = shell(context(worktree, bwrap), command).result.output
    assert "CapEff:\t0000000000000000" in output and "CapBnd:\t0000000000000000" in output
    assert "NoNewPrivs:\t1" in output
    assert "nested-userns" not in output and "remounted" not in output and "mounted\n" not in output


# --- the file tools -----------------------------------------------------------------------------------


def test_symlinks_made_in_the_sandbox_do_not_lead_the_file_tools_out(
    worktree, bwrap, planted_home_secret, unharmed
) -> None:
    path, secret = planted_home_secret
    ctx = context(worktree, bwrap)
    made = shell(ctx, f"ln -s {path} secret-link && ln -s /etc etc-link && ln -s {path.parent} home-link")
    assert made.result.ok
    read = tool(ctx, "read_file", path="secret-link")
    assert read.error == "tool_error" and secret not in read.result.output
    assert (
        "secret-link is a symlink to" in read.result.output and "outside the repository" in read.result.output
    )
    written = tool(ctx, "create_file", path="etc-link/escape.conf", content="x")
    assert written.error == "tool_error" and not Path("/etc/escape.conf").exists()
    edited = tool(ctx, "edit_file", path=f"home-link/{path.name}", old_text=secret, new_text="changed")
    assert edited.error == "tool_error" and path.read_text() == secret
    listed = tool(ctx, "list_files", path="home-link")
    assert listed.error == "tool_error"


def test_dot_dot_and_absolute_paths_are_refused_by_the_file_tools(
    user_repo, worktree, bwrap, planted_home_secret, unharmed
) -> None:
    path, secret = planted_home_secret
    ctx = context(worktree, bwrap)
    before = snapshot(user_repo)
    up = tool(ctx, "read_file", path="../../../../stats.py")
    assert up.error == "tool_error" and "'..' leads out of it" in up.result.output
    absolute = tool(ctx, "read_file", path=str(path))
    assert absolute.error == "tool_error" and "an absolute path outside it" in absolute.result.output
    assert secret not in absolute.result.output
    overwrite = tool(ctx, "create_file", path="../../../../stats.py", content="x", overwrite=True)
    assert overwrite.error == "tool_error"
    search = tool(ctx, "search", pattern="home-secret", path=str(path.parent))
    assert search.error == "tool_error"
    tests = tool(ctx, "run_tests", paths=["../../../../test_stats.py"])
    assert tests.error == "tool_error"
    assert snapshot(user_repo) == before


def test_the_read_only_policy_refuses_every_write(worktree, bwrap, unharmed) -> None:
    ctx = context(worktree, bwrap, policy="read-only")
    ctx.writable = False
    result = shell(ctx, "echo x > new.txt; cat stats.py | head -1")
    assert "Read-only file system" in result.result.output and "def median" in result.result.output
    created = tool(ctx, "create_file", path="new2.txt", content="x")
    assert created.error == "tool_error" and "read-only" in created.result.output
    assert not (worktree / "new.txt").exists() and not (worktree / "new2.txt").exists()
