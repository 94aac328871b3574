"""agent/build.py, the one place sandboxes and engines are built: the source rules that keep it so,
and the long-lived sandboxed process (`BubblewrapSandbox.wrap`) MCP stdio servers run in."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest

from agent.build import approve_by_hand, command_sandbox, run_sandboxes, server_wrapper, tool_sandboxes
from agent.config import AgentConfig
from agent.mcp.runtime import no_wrapping
from sandbox.config import SandboxConfig
from sandbox.egress import PROXIED
from sandbox.subprocess_sandbox import Limits
from tests.escape_support import loopback_service, markers
from tests.paths import ROOT
from tests.repos import median_repo

BUILDERS = frozenset(
    {"SubprocessSandbox", "BubblewrapSandbox", "ApprovalSandbox", "PreparedEnvironment", "backend"}
)
ENGINES = frozenset({"LlamaCppEngine", "OpenAICompatEngine", "ScriptedEngine"})
COMPOSITION_ROOT = Path("agent/build.py")
ENGINE_REGISTRY = Path("agent/engines/__init__.py")  # the backends by short name, which build.py calls
ENGINE_MODULES = {Path(f"agent/engines/{name}.py") for name in ("llamacpp", "openai_compat", "scripted")}


def construction(source: str, package: str = "sandbox", builders: frozenset[str] = BUILDERS) -> list[str]:
    """Where a module imports one of `builders` from `package`, or calls one (`X(...)`,
    `X.from_file(...)`): `line: name`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name in builders]
        elif isinstance(node, ast.Call):
            called = [node.func]
            if isinstance(node.func, ast.Attribute):  # `X.from_file(...)`: a constructor of X
                called.append(node.func.value)
            for func in called:
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name in builders:
                    found.append(f"{node.lineno}: {name}(...)")
    return found


def sandbox_construction(source: str) -> list[str]:
    """Where a module imports a sandbox class or the backend registry, or calls one: `line: name`."""
    return construction(source)


def engine_construction(source: str) -> list[str]:
    """Where a module imports an engine class or constructs one (`X(...)`, `X.from_file(...)`)."""
    return construction(source, "agent.engines", ENGINES)


def outside_the_sandbox_package() -> list[Path]:
    return [
        p.relative_to(ROOT)
        for top in ("agent", "tools", "prompts")
        for p in sorted((ROOT / top).rglob("*.py"))
    ]


def test_only_agent_build_constructs_sandboxes() -> None:
    offenders = {
        str(path): hits
        for path in outside_the_sandbox_package()
        if path != COMPOSITION_ROOT and (hits := sandbox_construction((ROOT / path).read_text()))
    }
    assert offenders == {}, f"build sandboxes in agent/build.py, not here: {offenders}"
    assert sandbox_construction((ROOT / COMPOSITION_ROOT).read_text())  # the rule has something to find


def test_only_agent_build_and_the_registry_construct_engines() -> None:
    allowed = {COMPOSITION_ROOT, ENGINE_REGISTRY, *ENGINE_MODULES}  # a class may name itself
    offenders = {
        str(path): hits
        for path in outside_the_sandbox_package()
        if path not in allowed and (hits := engine_construction((ROOT / path).read_text()))
    }
    assert offenders == {}, f"build engines in agent/build.py (through agent.engines), not here: {offenders}"
    assert engine_construction((ROOT / ENGINE_REGISTRY).read_text())  # the rule has something to find
    assert "engines." in (ROOT / COMPOSITION_ROOT).read_text()  # build.py calls the registry


def test_the_engine_rule_sees_every_way_of_constructing_one() -> None:
    source = (
        "from agent.engines.scripted import ScriptedEngine as Replay\n"
        "import agent.engines.llamacpp\n"
        "a = Replay.from_file(path)\n"
        "b = agent.engines.llamacpp.LlamaCppEngine(llama, 'm')\n"
        "c = ScriptedEngine.from_file(path)\n"
    )
    assert engine_construction(source) == [
        "1: import ScriptedEngine",
        "4: LlamaCppEngine(...)",
        "5: ScriptedEngine(...)",
    ]


def test_the_rule_sees_every_way_of_constructing_one() -> None:
    source = (
        "from sandbox.subprocess_sandbox import SubprocessSandbox as Plain\n"
        "import sandbox.bubblewrap\n"
        "a = Plain()\n"
        "b = sandbox.bubblewrap.BubblewrapSandbox()\n"
        "from sandbox.select import backend\n"
    )
    assert sandbox_construction(source) == [
        "1: import SubprocessSandbox",
        "5: import backend",
        "4: BubblewrapSandbox(...)",
    ]


def test_the_composition_root_wires_each_layer(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    plain = run_sandboxes(AgentConfig(), git.Repo(repo), None)
    assert plain.commands.mode == "bubblewrap (workspace, network off)" and plain.setup is None
    assert getattr(plain.servers, "__name__", "") == "wrap"  # BubblewrapSandbox.wrap
    asked = AgentConfig(sandbox=SandboxConfig(approval="always", setup_command="true"))
    built = run_sandboxes(asked, git.Repo(repo), approve_by_hand, "asked in the TUI")
    assert built.commands.mode.endswith("approval always (asked in the TUI)")
    assert built.setup_mode == f"bubblewrap (workspace, {PROXIED})"
    by_hand = tool_sandboxes(asked, git.Repo(repo), approve_by_hand).commands
    assert by_hand.mode.endswith("approval always (run by hand)")
    assert by_hand.run("echo typed", repo, 10).output == "typed\n"
    none = AgentConfig(sandbox=SandboxConfig(backend="none"))
    assert server_wrapper(none) is no_wrapping
    assert command_sandbox(none, None, None).mode.startswith("none (NO ISOLATION")


def spawn(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_a_wrapped_server_lives_past_the_command_timeout_isolated_and_limited(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    config = AgentConfig(sandbox=SandboxConfig(limits=Limits(open_files=123), output_limit=1000))
    wrap = server_wrapper(config)
    with markers() as found, loopback_service() as service:
        hidden = "test -e ~/.bashrc -o -e ~/.gitconfig -o -e ~/.config && echo home-shown || echo home-hidden"
        script = f"read line; {found.shell()}; {service.shell()}; ulimit -n; {hidden}; echo $line"
        proc = spawn(wrap(["bash", "-c", script], repo, False), repo)
        time.sleep(1.5)  # longer than any command timeout: a server has none
        out, _ = proc.communicate("still-here\n", timeout=30)
        assert out.split() == ["planted", "unreachable", "123", "home-hidden", "still-here"], out
        assert found.on_host() == [] and service.reached == 0
        networked = spawn(wrap(["bash", "-c", service.shell()], repo, True), repo)
        assert networked.communicate(timeout=30)[0] == "connected\n"  # an entry's `network = true`
        assert service.reached == 1


def test_a_wrapped_server_dies_with_the_agent(tmp_path: Path) -> None:
    """`--die-with-parent`: a running server cannot outlive the agent process that started it."""
    repo = median_repo(tmp_path / "r")
    argv = server_wrapper(AgentConfig())(["bash", "-c", "touch started; exec sleep 600"], repo, False)
    agent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, time; subprocess.Popen({argv!r}); time.sleep(600)"],
        cwd=repo,
    )
    try:
        deadline = time.monotonic() + 30
        while not (repo / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleepers(argv), "the wrapped server did not start"
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        deadline = time.monotonic() + 10
        while sleepers(argv) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sleepers(argv) == []
    finally:
        agent.kill()
        for pid in sleepers(argv):  # only when the assertion above failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)


def sleepers(argv: list[str]) -> list[int]:
    """Processes running exactly `argv`'s bwrap command line (the server's sandbox)."""
    wanted = "\0".join(argv[argv.index("--") + 1 :])
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.rstrip("\0") == wanted:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("policy", ["read-only", "workspace"])
def test_a_wrapped_server_gets_the_command_policys_mounts(tmp_path: Path, policy: str) -> None:
    repo = median_repo(tmp_path / "r")
    config = AgentConfig(sandbox=SandboxConfig.model_validate({"policy": policy}))
    proc = spawn(
        server_wrapper(config)(["bash", "-c", "touch here.txt 2>&1 && echo wrote"], repo, False), repo
    )
    out = proc.communicate(timeout=30)[0]
    assert (repo / "here.txt").exists() == (policy == "workspace"), out
