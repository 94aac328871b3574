"""A plain-subprocess sandbox: fresh process group per command, wall-clock timeout that kills the
whole tree, resource limits, capped output and a scrubbed environment. No filesystem or network
isolation: that is the bubblewrap backend's job.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from sandbox.base import CommandResult
from sandbox.env import scrubbed_env
from sandbox.output import CappedOutput


class Limits(BaseModel):
    cpu_seconds: int = 600
    file_size_bytes: int = 1 << 30  # 1 GiB per file written
    address_space_bytes: int = 8 << 30
    open_files: int = 1024


def _apply_limits(limits: Limits) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        for kind, value in (
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_FSIZE, limits.file_size_bytes),
            (resource.RLIMIT_AS, limits.address_space_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
        ):
            resource.setrlimit(kind, (value, value))

    return preexec


EXIT_GRACE_SECONDS = 0.5


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(0.2)


class SubprocessSandbox:
    def __init__(
        self, output_limit: int = 20_000, limits: Limits | None = None, extra_env_allow: Iterable[str] = ()
    ) -> None:
        self.output_limit = output_limit
        self.limits = limits or Limits()
        self.extra_env_allow = tuple(extra_env_allow)

    @property
    def mode(self) -> str:
        return "subprocess (no isolation)"

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
        shown = command if isinstance(command, str) else " ".join(command)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=scrubbed_env(extra_allowed=self.extra_env_allow, overrides=env),
                start_new_session=True,
                preexec_fn=_apply_limits(self.limits),
            )
        except OSError as exc:
            return CommandResult(command=shown, exit_code=127, output=f"cannot start command: {exc}")
        output = CappedOutput(self.output_limit)
        try:
            timed_out = self._pump(proc, output, started + timeout)
        finally:
            _kill_group(proc.pid)  # also reaps background children left behind
            proc.wait()
        return CommandResult(
            command=shown,
            exit_code=proc.returncode if not timed_out else 124,
            output=output.text(),
            timed_out=timed_out,
            truncated_chars=max(output.elided, 0),
            seconds=round(time.monotonic() - started, 3),
        )

    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], output: CappedOutput, deadline: float) -> bool:
        """Read output until EOF or the deadline; True when the deadline hit.

        Once the command itself has exited, background children that keep the pipe open get a
        short grace period; then the process group is killed by the caller.
        """
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        exited_at: float | None = None
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return True
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > EXIT_GRACE_SECONDS:
                    return False
                if selector.select(timeout=min(deadline - now, 0.1)):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        return False
                    output.feed(chunk)
