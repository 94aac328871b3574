"""The sandbox backends: bubblewrap by default, `none` only when the user says so, never silently.

This is the registry agent/build.py (the one place sandboxes are built) calls: `backend` makes the
isolation layer for a config and a policy, `PreparedEnvironment` puts the setup step's environment
on PATH, `run_setup` runs the setup command. Layers are composed in agent/build.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox.base import CommandResult, Sandbox
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, Policy, probe_bwrap
from sandbox.config import SandboxConfig
from sandbox.subprocess_sandbox import SubprocessSandbox

NO_ISOLATION_MODE = "none (NO ISOLATION: limits, timeouts and env scrub only)"
NO_ISOLATION_WARNING = (
    "WARNING: --sandbox none: commands the model chooses, the setup command and MCP stdio servers "
    "run WITHOUT isolation, as you, with access to your files, your home directory and the network. "
    "Only timeouts, resource limits and the environment scrub apply. Install bubblewrap to isolate them."
)


class PreparedEnvironment:
    """Puts the environment prepared by the setup command (`AGENT_ENV`) first on PATH."""

    def __init__(self, inner: Sandbox, env_dir: Path) -> None:
        self.inner = inner
        self.env_dir = env_dir

    @property
    def mode(self) -> str:
        return self.inner.mode

    def variables(self) -> dict[str, str]:
        bin_dir = self.env_dir / "bin"
        if not bin_dir.is_dir():
            return {"AGENT_ENV": str(self.env_dir)}
        path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
        return {"AGENT_ENV": str(self.env_dir), "PATH": path, "VIRTUAL_ENV": str(self.env_dir)}

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        return self.inner.run(command, cwd, timeout, {**self.variables(), **(env or {})})


def backend(
    config: SandboxConfig,
    policy: Policy,
    read_paths: Sequence[Path] = (),
    write_paths: Sequence[Path] = (),
    bwrap: BwrapInfo | None = None,
) -> SubprocessSandbox | BubblewrapSandbox:
    """The isolation layer for `config.backend`. Raises SandboxUnavailable (naming the fix) when
    bubblewrap cannot run and the user did not choose `none`."""
    if config.backend == "none":
        return SubprocessSandbox(config.output_limit, limits=config.limits, label=NO_ISOLATION_MODE)
    return BubblewrapSandbox(
        policy=policy,
        limits=config.limits,
        output_limit=config.output_limit,
        read_paths=[*config.read_path_list(), *read_paths],
        write_paths=write_paths,
        tmpfs_bytes=config.tmpfs_bytes,
        bwrap=bwrap or probe_bwrap(),
    )


def warning_for(config: SandboxConfig) -> str | None:
    return NO_ISOLATION_WARNING if config.backend == "none" else None


def run_setup(sandbox: Sandbox, command: str, root: Path, timeout: float) -> CommandResult:
    """Run the setup command in the worktree (pip's cache kept in the environment directory)."""
    env = {}
    if isinstance(sandbox, PreparedEnvironment):
        env["PIP_CACHE_DIR"] = str(sandbox.env_dir / ".cache" / "pip")
    return sandbox.run(command, root, timeout, env)
