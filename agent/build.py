"""The composition root: what the agent runs on is built here, from the config, and nowhere else.
The CLI (agent/cli/), the TUI and `agent mcp serve` call these functions; tests/test_build.py
checks that nothing else constructs a sandbox backend or an engine.

Sandboxes. `agent fix`, the TUI, `agent tool`, `agent sandbox`, `agent mcp serve`, eval scoring and
MCP stdio servers get theirs here. Layers, outermost first:

- approval (`approval = "always"`): asks the given `Approver` before every command; with none (a
  headless run, `mcp serve`) every command is refused, with a message saying so;
- the prepared environment: the setup step's `$AGENT_ENV/bin` first on PATH;
- the backend (sandbox/select.py): bubblewrap, or no isolation when the user chose `none`.

The setup step gets its own sandbox (public internet through a proxy, `$AGENT_ENV` writable) and
MCP stdio servers a `CommandWrapper` that starts them inside bubblewrap (`BubblewrapSandbox.wrap`),
or as they are with `--sandbox none` (the loud warning covers them).

Engines: the scripted one for `--script`, the HTTP one for a `base_url`, else the embedded one, with
the memory check and the recommended load settings (agent/models/load_plan.py), through the
engines' registry (agent/engines/__init__.py).

Toolsets and the run: our tools for the engine's tool-call format, the budgets and the loop, the
run that wires them (`fix_run`), what `agent mcp serve` offers, and `agent tool`'s session.
Modules past the sandboxes' are imported where they are built: `agent --help` loads none of them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import git

from agent import engines
from agent.config import AgentConfig, user_config_path
from agent.engines.base import Engine, EngineError
from agent.mcp.runtime import CommandWrapper, no_wrapping
from agent.models.resolution import resolve_model
from agent.repo.dirs import env_dir
from agent.repo.python_env import Candidate
from agent.repo.python_env import candidates as python_candidates
from agent.repo.python_env import exposures as python_exposures
from agent.run.sandboxes import RunSandboxes
from sandbox.approval import ApprovalSandbox, Approver, Decision
from sandbox.base import Sandbox
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, probe_bwrap
from sandbox.egress import PROXIED, ProxiedNetwork
from sandbox.select import PreparedEnvironment, backend, warning_for

if TYPE_CHECKING:  # imported where they are built: `agent sandbox` and `agent --help` load none of it
    from agent.events import RunEvent
    from agent.loop import AgentLoop, Budgets, Toolset, Worktree
    from agent.run.fix import FixRun, LoopFactory
    from agent.steering import Steering
    from tools.base import Tool, ToolContext
    from tools.registry import Toolbox

    Emit = Callable[[RunEvent], None]

Say = Callable[[str], None]
UNLIMITED = 10**9  # MCP tools `agent tool` lists: all
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
    return _with_approval(config, _isolation(config, repo, bwrap), approver, asker)


def _isolation(
    config: AgentConfig, repo: git.Repo | None, bwrap: BwrapInfo | None, read_paths: Sequence[Path] = ()
) -> Sandbox:
    """The backend with the setup step's environment first on PATH; `read_paths` shown read-only."""
    where = env_dir(repo)
    read = [*([where] if where else []), *read_paths]
    sandbox: Sandbox = backend(config.sandbox, config.sandbox.policy, read, (), bwrap)
    return PreparedEnvironment(sandbox, where) if where is not None else sandbox


def _with_approval(config: AgentConfig, sandbox: Sandbox, approver: Approver | None, asker: str) -> Sandbox:
    return ApprovalSandbox(sandbox, approver, asker) if config.sandbox.approval == "always" else sandbox


def test_pythons(config: AgentConfig, repo: git.Repo) -> list[Candidate]:
    """The interpreters that may run the repository's tests, in the order they are tried
    (agent/repo/python_env.py): the one the user named, the setup step's, $VIRTUAL_ENV, the
    repository's venvs, uv/poetry/hatch/tox environments, PATH, ours."""
    named = config.named_python()
    return python_candidates(
        Path(repo.working_tree_dir or "."),
        os.environ,
        named,
        env_dir(repo) if config.sandbox.setup_command else None,
    )


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
    pythons = test_pythons(config, repo)
    isolation = _isolation(config, repo, bwrap, python_exposures(pythons))
    return RunSandboxes(
        commands=_with_approval(config, isolation, approver, asker),
        setup=setup_sandbox(config, repo, bwrap),
        servers=server_wrapper(config, bwrap),
        approver=approver,
        probe=isolation,
        pythons=tuple(pythons),
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


# ---- engines -------------------------------------------------------------------------------------


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_engine(config: AgentConfig, script: Path | None = None, say: Say = _stderr) -> Engine:
    """The scripted engine for a script, the HTTP engine for a base URL, else the embedded one."""
    backend = engines.backend_for(script, config.engine.base_url)
    if backend == "scripted" and script is not None:
        return engines.scripted(script)
    if backend == "openai":
        return _build_openai(config)
    return _build_llamacpp(config, say)


def _build_openai(config: AgentConfig) -> Engine:
    import httpx

    client = httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))
    return engines.openai(
        client=client,
        base_url=config.engine.base_url or "",
        model=config.engine.server_model,
        api_key=os.environ.get(config.engine.api_key_env),
        context_length=config.engine.n_ctx,
        thinking=config.knobs_for(config.engine.server_model).thinking,
        tool_format=config.engine.tool_format,
    )


def _build_llamacpp(config: AgentConfig, say: Say) -> Engine:
    from agent.engines.llama_load import load_llama
    from agent.engines.prefix_cache import PrefixCache
    from agent.models.cache import model_cache_dir

    resolved = resolve_model(None, config.engine.model)
    if resolved.warning:
        say(f"warning: {resolved.warning}")
    size_gb = resolved.path.stat().st_size / 1e9
    kwargs = load_settings(config, resolved.path, say)
    say(f"loading {resolved.path.name} ({size_gb:.2f} GB, from {resolved.source}) ...")
    started = time.monotonic()
    llama = load_llama(resolved.path, **kwargs)
    say(f"model loaded in {time.monotonic() - started:.1f}s")
    thinking = config.knobs_for(resolved.path.name, config.engine.model or "").thinking
    prefix_cache = (
        PrefixCache(model_cache_dir() / "prompt-cache", llama) if config.engine.prompt_cache else None
    )
    return engines.llamacpp(
        llama=llama,
        model_name=resolved.path.name,
        thinking=thinking,
        tool_format=config.engine.tool_format,
        prefix_cache=prefix_cache,
        speculative=config.engine.speculative != "off",
    )


def load_settings(config: AgentConfig, path: Path, say: Say) -> dict[str, Any]:
    """The memory check and recommended settings (agent.models.load_plan) as load_llama arguments."""
    knobs = config.knobs_for(path.name, config.engine.model or "")
    plain = {"n_ctx": knobs.n_ctx or config.engine.n_ctx, "n_threads": knobs.threads}
    if not config.engine.fit_check:
        return plain
    from agent.models.gguf_file import GGUFError
    from agent.models.load_plan import ModelDoesNotFit, plan_load

    try:
        plan = plan_load(path, knobs, default_ctx=config.engine.n_ctx, gpu_offload=_gpu_offload())
    except ModelDoesNotFit as exc:
        raise EngineError(str(exc)) from exc
    except GGUFError as exc:  # llama.cpp would parse what our reader could not: refused, not risked
        raise unreadable_header(exc) from exc
    say(plan.summary)
    return plan.load_kwargs()


def unreadable_header(exc: Exception) -> EngineError:
    return EngineError(
        f"{exc}: the memory check cannot read its header, so the model is not loaded. Use a GGUF "
        "file that `agent models fit` reads, or, if you trust this file, set fit_check = false in "
        f"{user_config_path()} to load it without the check"
    )


def check_header(path: Path) -> None:
    """Refuse (EngineError) a file whose GGUF header our reader cannot parse, before llama.cpp opens it."""
    from agent.models.gguf_file import GGUFError, read_model

    try:
        read_model(path)
    except GGUFError as exc:
        raise unreadable_header(exc) from exc


def _gpu_offload() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


# ---- toolsets and the run ---------------------------------------------------------------------


def run_tools(config: AgentConfig, tool_format: str) -> list[Tool]:
    """Our tools for a run: the configured ones (web_fetch when enabled), with the edit tools of the
    model's family (tools/registry.py `tools_for`). MCP servers' tools join at setup (agent/run/setup.py)."""
    from tools.registry import configured_tools, tools_for

    return tools_for(tool_format, configured_tools(config.web_fetch))


def budgets_for(config: AgentConfig) -> Budgets:
    """What the loop may spend: the config's loop and repair sections (agent/loop/state.py)."""
    from agent.loop import Budgets

    return Budgets.of(config.loop, config.repair, config.reproduce)


def loop_factory(engine: Engine, config: AgentConfig) -> LoopFactory:
    """How a run makes its agent loop once its worktree exists: the run's toolset bound to the tool
    context, write_code for the repair phase (agent/loop/repair.py), the budgets from the config."""
    from agent.loop import AgentLoop, Tools
    from tools import write_code
    from tools.registry import Toolbox

    budgets = budgets_for(config)

    def new_loop(
        toolset: Toolset, ctx: ToolContext, worktree: Worktree, emit: Emit, steering: Steering | None
    ) -> AgentLoop:
        tools = Tools(toolset, ctx, code_writer=Toolbox([write_code.TOOL]))
        return AgentLoop(engine, tools, worktree, emit, budgets, steering=steering)

    return new_loop


def fix_run(
    engine: Engine,
    sandboxes: RunSandboxes,
    config: AgentConfig,
    emit: Emit,
    steering: Steering | None = None,
) -> FixRun:
    """One task from start to report (agent/run/fix.py), for `agent fix` and the TUI."""
    from agent.models.speed import SpeedBook, speeds_path
    from agent.run.fix import FixRun

    tools = run_tools(config, engine.tool_format)
    # the embedded engine is measured before its first run on a machine; a server's speed is learnt
    speeds = SpeedBook(speeds_path(), probes=engine.name == "llama.cpp")
    return FixRun(
        engine,
        sandboxes,
        config,
        emit,
        steering,
        tools=tools,
        new_loop=loop_factory(engine, config),
        speeds=speeds,
    )


def served_tools(read_only: bool) -> list[Tool]:
    """What `agent mcp serve` offers: `repo_context` (agent/run/repo_context.py) and our tools;
    `--read-only`: only those that change nothing."""
    from agent.run.repo_context import RepoContext
    from tools import create_file, edit_file, list_files, read_file, run_tests, search, shell

    tools: list[Tool] = [RepoContext(), read_file.TOOL, search.TOOL, list_files.TOOL]
    if not read_only:
        tools += [run_tests.TOOL, shell.TOOL, edit_file.TOOL, create_file.TOOL]
    return tools


def _warn_mcp(message: str) -> None:
    print(f"agent: {message}", file=sys.stderr)


@contextlib.contextmanager
def tool_session(config: AgentConfig, root: Path, wrap: CommandWrapper) -> Iterator[Toolbox]:
    """For `agent tool` and `agent mcp list --tools`: every tool a run may offer (tools/registry.py
    `available_tools`) plus the configured servers' tools (stdio ones started through `wrap`, inside
    the sandbox); the person at the terminal approves by calling."""
    from agent.mcp.servers import McpServers
    from tools.registry import Toolbox, available_tools

    with McpServers(
        config.mcp.servers, root, wrap, approver=lambda request: "approve", notify=_warn_mcp
    ) as servers:
        tools = servers.start(lambda spec: 0, UNLIMITED, UNLIMITED)
        yield Toolbox([*available_tools(config.web_fetch), *tools])
