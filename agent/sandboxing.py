"""Building the sandbox the CLI commands use, from the config: one place, so `agent fix`,
`agent tool` and `agent sandbox` run a command exactly the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import git

from agent.config import AgentConfig
from agent.workspace import agent_dir
from sandbox.approval import Approver
from sandbox.base import Sandbox
from sandbox.bubblewrap import BwrapInfo, probe_bwrap
from sandbox.select import build_sandbox, setup_sandbox, warning_for


def env_dir(repo: git.Repo | None) -> Path | None:
    """Where `setup_command` prepares the test environment: `<git-common-dir>/.agent/env`."""
    return agent_dir(repo) / "env" if repo is not None else None


def _probe(config: AgentConfig) -> BwrapInfo | None:
    return probe_bwrap() if config.sandbox.backend == "bubblewrap" else None


def command_sandbox(
    config: AgentConfig,
    repo: git.Repo | None,
    approver: Approver | None = None,
    err: TextIO = sys.stderr,
) -> Sandbox:
    """The sandbox for the model's commands; prints the loud warning for `--sandbox none`.
    Raises SandboxUnavailable (naming the fix) when bubblewrap cannot run."""
    warning = warning_for(config.sandbox)
    if warning:
        print(f"agent: {warning}", file=err)
    return build_sandbox(config.sandbox, env_dir(repo), approver, _probe(config))


def preparation_sandbox(config: AgentConfig, repo: git.Repo) -> Sandbox | None:
    """The sandbox `setup_command` runs in (network on), or None when no setup is configured."""
    where = env_dir(repo)
    if not config.sandbox.setup_command or where is None:
        return None
    return setup_sandbox(config.sandbox, where, _probe(config))
