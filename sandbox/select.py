"""Choosing the sandbox: bubblewrap by default, `none` only when the user says so, never silently.

`build_sandbox` is what `agent fix`, `agent tool` and `agent sandbox` use, so a command runs the same
way in all three. Layers, outermost first: approval (when a person can be asked), the prepared
environment (AGENT_ENV on PATH, see `setup_sandbox`), the backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox.approval import ApprovalSandbox, Approver
from sandbox.base import CommandResult, Sandbox
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, Policy, probe_bwrap
from sandbox.config import SandboxConfig
from sandbox.subprocess_sandbox import SubprocessSandbox

NO_ISOLATION_MODE = "none (NO ISOLATION: limits, timeouts and env scrub only)"
NO_ISOLATION_WARNING = (
    "WARNING: --sandbox none: commands the model chooses run WITHOUT isolation, as you, with access "
    "to your files, your home directory and the network. Only timeouts, resource limits and the "
    "environment scrub apply. Install bubblewrap to isolate them."
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


def _backend(
    config: SandboxConfig,
    policy: Policy,
    read_paths: list[Path],
    write_paths: list[Path],
    bwrap: BwrapInfo | None,
) -> Sandbox:
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


def build_sandbox(
    config: SandboxConfig,
    env_dir: Path | None = None,
    approver: Approver | None = None,
    bwrap: BwrapInfo | None = None,
) -> Sandbox:
    """The sandbox for the model's commands. Raises SandboxUnavailable (naming the fix) when
    bubblewrap cannot run and the user did not choose `none`."""
    sandbox = _backend(config, config.policy, [env_dir] if env_dir else [], [], bwrap)
    if env_dir is not None:
        sandbox = PreparedEnvironment(sandbox, env_dir)
    if config.approval == "always" and approver is not None:
        sandbox = ApprovalSandbox(sandbox, approver)
    return sandbox


def setup_sandbox(config: SandboxConfig, env_dir: Path, bwrap: BwrapInfo | None = None) -> Sandbox:
    """For `setup_command`: network allowed, the worktree and `env_dir` writable. `env_dir` persists
    across runs (a virtual environment made there is reused); later commands only read it."""
    env_dir.mkdir(parents=True, exist_ok=True)
    inner = _backend(config, "network", [], [env_dir], bwrap)
    return PreparedEnvironment(inner, env_dir)


def warning_for(config: SandboxConfig) -> str | None:
    return NO_ISOLATION_WARNING if config.backend == "none" else None


def run_setup(sandbox: Sandbox, command: str, root: Path, timeout: float) -> CommandResult:
    """Run the setup command in the worktree (pip's cache kept in the environment directory)."""
    env = {}
    if isinstance(sandbox, PreparedEnvironment):
        env["PIP_CACHE_DIR"] = str(sandbox.env_dir / ".cache" / "pip")
    return sandbox.run(command, root, timeout, env)
