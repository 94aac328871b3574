"""The bubblewrap backend: every command in its own namespaces, the worktree the only writable place.

Per command: a new user, mount, PID, IPC, UTS and (unless the policy allows it) network namespace;
`--die-with-parent`, `--new-session` (no terminal injection), all capabilities dropped (also for
root), no new privileges (bubblewrap always sets it), no nested user namespaces where bwrap supports
`--disable-userns`. The filesystem is the host's, read-only, with the home directory and the
temporary places hidden (see sandbox/mounts.py for the plan).

Limits reuse the subprocess machinery: rlimits set before exec (CPU seconds, file size, address
space, open files, and RLIMIT_NPROC for non-root users, where the user namespace makes it count this
sandbox's processes), a pids cgroup per command when running as root (sandbox/cgroup.py), a
wall-clock timeout, capped output and the scrubbed environment. When the command's main process
exits, the PID namespace ends and the kernel kills every process left in it: nothing outlives a
command, not even a `setsid` double fork.

`wrap` puts a long-lived process (an MCP stdio server) in the same sandbox: the same namespaces,
mounts and limits (CPU seconds aside: a server lives as long as the run), no wall-clock timeout,
`--die-with-parent`. Its spawner gives it the scrubbed environment (`scrubbed_env`).

Network, when a policy or a caller asks for it, is the host's network namespace (`--share-net`):
the internet, but also services on the host's loopback and abstract unix sockets. Bubblewrap alone
cannot give a namespace outbound access without that; `NETWORK_ON` says so wherever it is shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sandbox.base import CommandResult
from sandbox.cgroup import PidsGroup, find_parent
from sandbox.env import scrubbed_env
from sandbox.mounts import MountError, home_dirs, plan_mounts, runtime_paths
from sandbox.subprocess_sandbox import (
    Limits,
    argv_for,
    clamped,
    display,
    limit_settings,
    preexec_limits,
    run_process,
)

Policy = Literal["read-only", "workspace", "network"]
POLICIES: tuple[Policy, ...] = ("read-only", "workspace", "network")
PROBE_TIMEOUT = 20.0
DEFAULT_TMPFS_BYTES = 1 << 30
REFUSED_EXIT_CODE = 126
NETWORK_ON = "network on: the host's, loopback included"
NETWORK_OFF = "network off"
LAUNCHER = str(Path(__file__).with_name("launch.py"))


class SandboxUnavailable(Exception):
    """The chosen sandbox cannot run here; the message names the fix."""


@dataclass(frozen=True)
class BwrapInfo:
    path: str
    disable_userns: bool  # bwrap >= 0.8
    tmpfs_size: bool = True  # `--size` for tmpfs mounts (bwrap >= 0.6)


def _core_flags(info: BwrapInfo, network: bool) -> list[str]:
    flags = [info.path, "--unshare-all", "--unshare-user"]
    if info.disable_userns:
        flags.append("--disable-userns")
    flags += ["--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    return [*flags, "--share-net"] if network else flags


def diagnose(stderr: str, proc_sys: Path = Path("/proc/sys")) -> str:
    """Why bubblewrap could not make its namespaces, and the command that fixes it."""
    checks = [
        ("kernel/unprivileged_userns_clone", "0", "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
        ("user/max_user_namespaces", "0", "sudo sysctl -w user.max_user_namespaces=15000"),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or add an AppArmor "
            "profile allowing bwrap to use user namespaces)",
        ),
    ]
    for name, bad, fix in checks:
        try:
            value = (proc_sys / name).read_text().strip()
        except OSError:
            continue
        if value == bad:
            return f"user namespaces are disabled ({name.replace('/', '.')} = {value}): run `{fix}`"
    return f"bubblewrap cannot create its namespaces: {stderr.strip() or 'unknown error'}"


def _unavailable(reason: str) -> SandboxUnavailable:
    return SandboxUnavailable(
        f"the bubblewrap sandbox is not available: {reason}. Commands are not run without isolation "
        'unless you choose it: pass `--sandbox none` (or set `backend = "none"` under [sandbox]) '
        "to run them with limits only."
    )


def probe_bwrap(path: str = "bwrap", proc_sys: Path = Path("/proc/sys")) -> BwrapInfo:
    """Check that bubblewrap runs here with every namespace we use; raise SandboxUnavailable if not."""
    try:
        helptext = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except FileNotFoundError as exc:
        raise _unavailable(
            f"`{path}` is not installed: run `sudo apt-get install bubblewrap` (Debian, Ubuntu) or "
            "`sudo dnf install bubblewrap` (Fedora)"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise _unavailable(f"cannot run `{path}`: {exc}") from exc
    info = BwrapInfo(
        path=path,
        disable_userns="--disable-userns" in helptext.stdout,
        tmpfs_size="--size" in helptext.stdout,
    )
    argv = [*_core_flags(info, network=False), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    try:
        trial = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        raise _unavailable(f"cannot run `{path}`: {exc}") from exc
    if trial.returncode != 0:
        raise _unavailable(diagnose(trial.stderr, proc_sys))
    return info


def _chain(*steps: Callable[[], None]) -> Callable[[], None]:
    def run_all() -> None:
        for step in steps:
            step()

    return run_all


class BubblewrapSandbox:
    """Runs each command under bubblewrap; see the module docstring."""

    def __init__(
        self,
        policy: Policy = "workspace",
        limits: Limits | None = None,
        output_limit: int = 20_000,
        read_paths: Iterable[Path] = (),
        write_paths: Iterable[Path] = (),
        extra_env_allow: Iterable[str] = (),
        tmpfs_bytes: int = DEFAULT_TMPFS_BYTES,
        bwrap: BwrapInfo | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.policy = policy
        self.limits = limits or Limits()
        self.output_limit = output_limit
        self.read_paths = tuple(read_paths)
        self.write_paths = tuple(write_paths)
        self.extra_env_allow = tuple(extra_env_allow)
        self.tmpfs_bytes = tmpfs_bytes
        self.bwrap = bwrap or probe_bwrap()
        self._homes = home_dirs(env)
        self._runtime = runtime_paths(env)
        self._is_root = os.geteuid() == 0
        self._cgroup_parent = find_parent() if self._is_root and self.limits.processes else None

    @property
    def mode(self) -> str:
        return f"bubblewrap ({self.policy}, {NETWORK_ON if self.policy == 'network' else NETWORK_OFF})"

    @property
    def process_limit(self) -> str:
        """How the process limit is enforced here (shown by `agent sandbox`)."""
        if not self.limits.processes:
            return "none"
        if self._cgroup_parent is not None:
            return f"{self.limits.processes} (pids cgroup)"
        if self._is_root:
            return "not enforced (root without a writable pids cgroup)"
        return f"{self.limits.processes} (RLIMIT_NPROC in the sandbox's user namespace)"

    def argv(self, command: str | Sequence[str], cwd: Path, network: bool | None = None) -> list[str]:
        """The bwrap command line; `network` None follows the policy. Raises MountError."""
        plan = plan_mounts(
            cwd,
            writable=self.policy != "read-only",
            homes=self._homes,
            runtime=self._runtime,
            read_paths=self.read_paths,
            write_paths=self.write_paths,
        )
        mounts = plan.args(self.tmpfs_bytes if self.bwrap.tmpfs_size else None)
        shared = self.policy == "network" if network is None else network
        return [*_core_flags(self.bwrap, shared), *mounts, "--chdir", str(cwd), "--", *argv_for(command)]

    def wrap(self, argv: Sequence[str], cwd: Path, network: bool) -> list[str]:
        """The command line that runs `argv` as a long-lived process inside this sandbox (see the
        module docstring): the caller spawns it with the scrubbed environment. Raises MountError."""
        inner = self.argv(list(argv), Path(os.path.realpath(cwd)), network)
        limits = clamped(limit_settings(self.limits.model_copy(update={"cpu_seconds": None}), self._is_root))
        return [sys.executable, "-I", "-S", LAUNCHER, json.dumps(limits), "--", *inner]

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        try:
            argv = self.argv(command, Path(os.path.realpath(cwd)))
        except (MountError, OSError) as exc:
            return CommandResult(command=display(command), exit_code=REFUSED_EXIT_CODE, output=f"{exc}\n")
        environment = scrubbed_env(
            extra_allowed=self.extra_env_allow, overrides={"TMPDIR": "/tmp", **(env or {})}
        )
        rlimits = preexec_limits(limit_settings(self.limits, self._is_root))
        group = self._new_group()
        before_exec = _chain(rlimits, group.enter) if group else rlimits
        try:
            result = run_process(
                argv, display(command), cwd, timeout, environment, self.output_limit, before_exec
            )
            if group is not None and group.limit_hit() and "processes" not in result.limits_hit:
                result.limits_hit.append("processes")
            return result
        finally:
            if group is not None:
                group.remove()

    def _new_group(self) -> PidsGroup | None:
        if self._cgroup_parent is None or not self.limits.processes:
            return None
        try:
            return PidsGroup.create(self._cgroup_parent, self.limits.processes)
        except OSError:
            return None
