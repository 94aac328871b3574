"""The sandboxes a test run uses: built by agent/build.py from the config, as `agent fix` builds them."""

from __future__ import annotations

from pathlib import Path

import git

from agent.build import run_sandboxes
from agent.config import AgentConfig
from agent.run.sandboxes import RunSandboxes
from sandbox.approval import Approver


def sandboxes(
    repo: Path, config: AgentConfig | None = None, approver: Approver | None = None
) -> RunSandboxes:
    """Commands, setup and MCP servers for a run in `repo` (bubblewrap unless `config` says none);
    no approver is a headless run."""
    return run_sandboxes(config or AgentConfig(), git.Repo(repo), approver)
