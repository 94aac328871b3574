"""The composition root: every sandbox the agent uses is built here, from the config.

`agent fix`, the TUI, `agent tool`, `agent sandbox`, `agent mcp serve`, eval scoring and MCP stdio
servers get their sandboxes from these functions; nothing else constructs a sandbox backend
(tests/test_build.py checks the source). Layers, outermost first:

- approval (`approval = "always"`): asks the given `Approver` before every command; with none (a
  headless run, `mcp serve`) every command is refused, with a message saying so;
- the prepared environment: the setup step's `$AGENT_ENV/bin` first on PATH;
- the backend (sandbox/select.py): bubblewrap, or no isolation when the user chose `none`.

The setup step gets its own sandbox (public internet through a proxy, `$AGENT_ENV` writable) and
MCP stdio servers a `CommandWrapper` that starts them inside bubblewrap (`BubblewrapSandbox.wrap`),
or as they are with `--sandbox none` (the loud warning covers them).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import git

from agent.config import AgentConfig
from agent.mcp.runtime import CommandWrapper, no_wrapping
from agent.repo.dirs import env_dir
from agent.run.sandboxes import RunSandboxes
from sandbox.approval import ApprovalSandbox, Approver, Decision
from sandbox.base import Sandbox
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, probe_bwrap
from sandbox.egress import PROXIED, ProxiedNetwork
from sandbox.select import PreparedEnvironment, backend, warning_for

SETUP_MODE = f"bubblewrap (workspace, {PROXIED})"
HEADLESS_APPROVAL_WARNING = (
    'WARNING: approval = "always" and this run is headless (no terminal, --headless or CI=true): '
    "nobody can approve a command, so every command the model asks for is refused. Run in a "
    'terminal or the TUI to approve them, or set approval = "never".'
)


def approve_by_hand(request: object) -> Decision:
    """The approver of `agent tool` and `agent sandbox`: the person who typed the command asked."""
    return "approve"


def probe(config: AgentConfig) -> BwrapInfo | None:
    """Bubblewrap's capabilities, once per command line; None for `--sandbox none`. Raises
    SandboxUnavailable (naming the fix) when it cannot run."""
    return probe_bwrap() if config.sandbox.backend == "bubblewrap" else None


def warn(config: AgentConfig, err: TextIO, headless: bool = False) -> None:
    """The loud warnings: `--sandbox none`, and approval that nobody can give."""
    warning = warning_for(config.sandbox)
    if warning:
        print(f"agent: {warning}", file=err)
    if headless and config.sandbox.approval == "always":
        print(f"agent: {HEADLESS_APPROVAL_WARNING}", file=err)


def command_sandbox(
    config: AgentConfig,
    repo: git.Repo | None,
    approver: Approver | None,
    asker: str = "",
    bwrap: BwrapInfo | None = None,
) -> Sandbox:
    """The sandbox for the model's commands. `approver` None means nobody can be asked: with
    `approval = "always"` every command is then refused. `asker` names who answers (the mode)."""
    where = env_dir(repo)
    sandbox: Sandbox = backend(config.sandbox, config.sandbox.policy, [where] if where else [], (), bwrap)
    if where is not None:
        sandbox = PreparedEnvironment(sandbox, where)
    if config.sandbox.approval == "always":
        sandbox = ApprovalSandbox(sandbox, approver, asker)
    return sandbox


def setup_sandbox(
    config: AgentConfig, repo: git.Repo | None, bwrap: BwrapInfo | None = None
) -> Sandbox | None:
    """The sandbox `setup_command` runs in, or None when none is configured: the worktree and
    `$AGENT_ENV` writable, and the internet through an HTTPS proxy (sandbox/egress.py) that never
    connects to this host (its loopback services, its own addresses) or link-local addresses (a
    cloud's metadata service), which bubblewrap's shared network would expose, abstract unix
    sockets included. `$AGENT_ENV` persists across runs (a virtual environment made there is
    reused); the model's commands only read it. Under `--sandbox none` it runs on the host's
    network, like everything else."""
    where = env_dir(repo)
    if not config.sandbox.setup_command or where is None:
        return None
    where.mkdir(parents=True, exist_ok=True)
    if config.sandbox.backend == "none":
        return PreparedEnvironment(backend(config.sandbox, "network", (), [where], bwrap), where)

    def isolation(proxy_dir: Path) -> Sandbox:
        return backend(config.sandbox, "workspace", [proxy_dir], [where], bwrap)

    return PreparedEnvironment(ProxiedNetwork(isolation, SETUP_MODE), where)


def server_wrapper(config: AgentConfig, bwrap: BwrapInfo | None = None) -> CommandWrapper:
    """How MCP stdio servers start: inside bubblewrap (the command policy's mounts, network only
    when the server's entry asks for it), or unwrapped under `--sandbox none`."""
    if config.sandbox.backend == "none":
        return no_wrapping
    isolation = backend(config.sandbox, config.sandbox.policy, (), (), bwrap)
    assert isinstance(isolation, BubblewrapSandbox)
    return isolation.wrap


def run_sandboxes(
    config: AgentConfig,
    repo: git.Repo,
    approver: Approver | None,
    asker: str = "",
    bwrap: BwrapInfo | None = None,
) -> RunSandboxes:
    """For `agent fix` and the TUI: commands, setup and MCP servers. `approver` None is a headless
    run. `bwrap` from `probe` (probed here when not given): SandboxUnavailable before anything runs."""
    bwrap = bwrap or probe(config)
    return RunSandboxes(
        commands=command_sandbox(config, repo, approver, asker, bwrap),
        setup=setup_sandbox(config, repo, bwrap),
        servers=server_wrapper(config, bwrap),
        approver=approver,
    )


def tool_sandboxes(config: AgentConfig, repo: git.Repo | None, approver: Approver | None) -> RunSandboxes:
    """For `agent tool` (the person asked: `approve_by_hand`) and `agent mcp serve` (the calling
    agent asked: no approver, so `approval = "always"` refuses). No setup step runs here."""
    bwrap = probe(config)
    warn(config, sys.stderr)
    asker = "run by hand" if approver is approve_by_hand else ""
    return RunSandboxes(
        commands=command_sandbox(config, repo, approver, asker, bwrap),
        setup=None,
        servers=server_wrapper(config, bwrap),
    )


def scoring_sandbox(
    config: AgentConfig, read_paths: Sequence[Path], bwrap: BwrapInfo | None = None
) -> Sandbox:
    """For `agent eval`: the tests that score a task's change, model-written code included: the
    task's tree writable, network off, the scrubbed environment, never an approval prompt (scoring
    is ours, not the model's); `read_paths` adds the task set's own files."""
    return backend(config.sandbox, "workspace", list(read_paths), (), bwrap or probe(config))
