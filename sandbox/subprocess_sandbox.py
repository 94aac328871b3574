"""A plain-subprocess sandbox: a fresh process group per command, a wall-clock timeout that kills the
whole tree, resource limits, capped output and a scrubbed environment.

There is no filesystem or network isolation here (that is a container backend's job): the command
runs as the agent's own user and can touch whatever that user can. A process that deliberately leaves
the process group (setsid, double fork into a new session) escapes the timeout kill; only a
cgroup/namespace backend can contain that.

Resource limits are set with setrlimit in the child between fork and exec:
- RLIMIT_CPU (CPU seconds), RLIMIT_FSIZE (largest file written), RLIMIT_AS (address space) and
  RLIMIT_NOFILE apply to everyone. Values are clamped to the current hard limit, so lowering never
  fails.
- RLIMIT_NPROC is applied only when not running as root: the kernel does not enforce it for root,
  and for other users it counts all of that user's processes, so it is kept generous.
The preexec hook only calls `resource.setrlimit`, which is safe enough after fork even when the
parent has threads (it takes no Python-level locks).
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sandbox.base import CommandResult
from sandbox.env import scrubbed_env
from sandbox.output import CappedOutput

TIMEOUT_EXIT_CODE = 124  # what timeout(1) reports
TERM_GRACE_SECONDS = 0.3  # between SIGTERM and SIGKILL of a process group
PIPE_GRACE_SECONDS = 0.3  # how long leftover background children may keep the output pipe open
READ_CHUNK = 65536


class Limits(BaseModel):
    """Per-command resource limits; None leaves a limit as inherited."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    cpu_seconds: int | None = 900
    """CPU seconds a command may use (RLIMIT_CPU)."""
    file_size_bytes: int | None = 1 << 30
    """Largest file a command may write, in bytes (RLIMIT_FSIZE)."""
    address_space_bytes: int | None = 16 << 30
    """Address space a command may map, in bytes (RLIMIT_AS)."""
    open_files: int | None = 4096
    """Files a command may hold open (RLIMIT_NOFILE)."""
    processes: int | None = 4096
    """Processes of the user (RLIMIT_NPROC; applied only when not running as root)."""


CPU_KILL_GRACE_SECONDS = 2  # SIGXCPU at the soft limit, SIGKILL this much later


def _clamp(kind: int, value: int) -> tuple[int, int]:
    """(soft, hard) never above the current hard limit, so setting it cannot fail."""
    _soft, hard = resource.getrlimit(kind)
    wanted = value + CPU_KILL_GRACE_SECONDS if kind == resource.RLIMIT_CPU else value
    if hard == resource.RLIM_INFINITY:
        return value, wanted
    return min(value, hard), min(wanted, hard)


def limit_settings(limits: Limits, is_root: bool) -> list[tuple[int, int]]:
    pairs = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_AS, limits.address_space_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, None if is_root else limits.processes),
    ]
    return [(kind, value) for kind, value in pairs if value is not None]


def clamped(settings: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(kind, soft, hard) as `preexec_limits` would set them, for a process started elsewhere."""
    return [(kind, *_clamp(kind, value)) for kind, value in settings]


def preexec_limits(settings: list[tuple[int, int]]) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        for kind, value in settings:
            resource.setrlimit(kind, _clamp(kind, value))

    return apply


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: int, reap: Callable[[], object] = lambda: None) -> None:
    """SIGTERM the whole group, give it a moment, then SIGKILL whatever is left.

    `reap` collects our own child when it dies, so its zombie does not keep the group "alive".
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + TERM_GRACE_SECONDS
    while time.monotonic() < deadline:
        reap()
        if not _group_alive(pgid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _exit_code(returncode: int) -> tuple[int, str]:
    """Shell-style exit code (128 + signal for a killed process) and a note for the output."""
    if returncode >= 0:
        return returncode, ""
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return 128 + number, f"\n[killed by {name}]"


_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
_FORK_SIGNS = ("fork: Resource temporarily unavailable", "fork: retry", "BlockingIOError: [Errno 11]")


def limits_hit(exit_code: int, timed_out: bool, elided: int, output: str) -> list[str]:
    """Which limits stopped a command: exact for signals, the timeout and the cap; from the
    messages programs print for memory and process limits (a refused allocation or fork)."""
    hit = ["timeout"] if timed_out else []
    if exit_code == 128 + signal.SIGXCPU:
        hit.append("cpu")
    if exit_code == 128 + signal.SIGXFSZ:
        hit.append("file_size")
    if exit_code != 0 and any(sign in output for sign in _MEMORY_SIGNS):
        hit.append("memory")
    if any(sign in output for sign in _FORK_SIGNS):
        hit.append("processes")
    if elided:
        hit.append("output")
    return hit


def display(command: str | Sequence[str]) -> str:
    return command if isinstance(command, str) else " ".join(command)


def argv_for(command: str | Sequence[str]) -> list[str]:
    """A string runs with `bash -c`; a list is executed directly."""
    return ["bash", "-c", command] if isinstance(command, str) else list(command)


def run_process(
    argv: list[str],
    shown: str,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str],
    output_limit: int,
    before_exec: Callable[[], None],
) -> CommandResult:
    """The machinery every backend shares: a fresh process group, capped output, a wall-clock
    timeout that kills the group, shell-style exit codes. Never raises for a bad command.

    `before_exec` runs in the child between fork and exec (rlimits, joining a cgroup).
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            preexec_fn=before_exec,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return CommandResult(command=shown, exit_code=127, output=f"cannot start command: {exc}")
    output = CappedOutput(output_limit)
    try:
        timed_out = _collect(proc, output, started + timeout)
    finally:
        kill_group(proc.pid, proc.poll)  # on timeout, and for background children left behind
        proc.wait()
    output.close()
    code, note = _exit_code(proc.returncode)
    exit_code = TIMEOUT_EXIT_CODE if timed_out else code
    text = output.text() + ("" if timed_out else note)
    return CommandResult(
        command=shown,
        exit_code=exit_code,
        output=text,
        timed_out=timed_out,
        truncated_chars=output.elided,
        seconds=round(time.monotonic() - started, 3),
        limits_hit=limits_hit(code, timed_out, output.elided, text),
    )


class SubprocessSandbox:
    """Runs each command as a fresh process group; see the module docstring for what it does not do.

    This is the `--sandbox none` backend: no filesystem or network isolation at all.
    """

    def __init__(
        self,
        output_limit: int = 20_000,
        extra_env_allow: Iterable[str] = (),
        limits: Limits | None = None,
        label: str = "subprocess",
    ) -> None:
        self.output_limit = output_limit
        self.extra_env_allow = tuple(extra_env_allow)
        self.limits = limits or Limits()
        self.label = label

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
        """A string runs with `bash -c`; a list is executed directly. Never raises for a bad command."""
        return run_process(
            argv_for(command),
            display(command),
            cwd,
            timeout,
            scrubbed_env(extra_allowed=self.extra_env_allow, overrides=env),
            self.output_limit,
            preexec_limits(limit_settings(self.limits, os.geteuid() == 0)),
        )


def _collect(proc: subprocess.Popen[bytes], output: CappedOutput, deadline: float) -> bool:
    """Read output until the command is done; True when the deadline hit first.

    Done means: the command exited and the pipe reached EOF, or it exited and leftover background
    children kept the pipe open for PIPE_GRACE_SECONDS (they are killed by the caller).
    A command that closes its output early is still waited for, up to the deadline.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    exited_at: float | None = None
    eof = False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and (eof or now - exited_at > PIPE_GRACE_SECONDS):
                return False
            if now >= deadline:
                return True
            if eof:  # output closed: wait for the exit itself (returns as soon as it happens)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=min(0.05, deadline - now))
            elif selector.select(timeout=min(deadline - now, 0.05)):
                chunk = os.read(fd, READ_CHUNK)
                eof = not chunk
                output.feed(chunk)
