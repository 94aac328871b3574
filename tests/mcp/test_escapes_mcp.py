"""Host-side escape cases for MCP: stdio servers from the user's config (`agent tool --list`,
`agent fix`) and the tools `agent mcp serve` offers another agent. Each case's code tries to write
to the real home and /tmp, read a secret from the agent's environment and reach a loopback TCP
service on the host; none of it may happen on the host (tests/escape_support.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from agent.cli.headless import report_from_stream
from tests.escape_support import (
    SECRET,
    SECRET_ENV,
    assert_contained,
    loopback_service,
    markers,
    probe_script,
    server_config,
)
from tests.repos import git, median_repo

AGENT = [sys.executable, "-m", "agent.cli"]
MEDIAN_EDIT = {
    "path": "stats.py",
    "old_text": "    return s[len(s) // 2]\n",
    "new_text": "    mid = len(s) // 2\n    if len(s) % 2 == 0:\n        return (s[mid - 1] + s[mid]) / 2\n"
    "    return s[mid]\n",
}


def user_config(tmp_path: Path, text: str) -> dict[str, str]:
    """XDG_CONFIG_HOME holding the user's config (trusted: it is where MCP servers are configured)."""
    folder = tmp_path / "xdg" / "local-agent"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(text)
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def agent(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **SECRET_ENV, **env},
    )


def test_a_user_configured_mcp_server_runs_in_the_sandbox_for_agent_tool_list(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    with markers() as found, loopback_service() as service:
        env = user_config(tmp_path, server_config(probe_script(found, service, "server-saw.txt")))
        listed = agent(["--repo", str(repo), "tool", "--list"], repo, env)
        assert listed.returncode == 0, listed.stderr
        assert "mcp__probe__add" in listed.stdout  # the server started and answered
        assert_contained(found, service, (repo / "server-saw.txt").read_text())


def test_a_user_configured_mcp_server_runs_in_the_sandbox_for_agent_fix(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    script = tmp_path / "script.json"
    turns = [
        {"text": "1. Check with the server\n2. Fix the even case"},
        {"tool_calls": [{"name": "mcp__probe__add", "arguments": {"a": 20, "b": 22}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": MEDIAN_EDIT}]},
        {"tool_calls": [{"name": "finish", "arguments": {"summary": "fixed"}}]},
    ]
    script.write_text(json.dumps(turns))
    with markers() as found, loopback_service() as service:
        env = user_config(tmp_path, server_config(probe_script(found, service, "server-saw.txt")))
        run = agent(
            ["--repo", str(repo), "fix", "median is wrong", "--script", str(script), "--json"], repo, env
        )
        report = report_from_stream(run.stdout)
        assert report["branch"], run.stderr
        called = [json.loads(line) for line in run.stdout.splitlines() if '"tool_finished"' in line]
        assert any(e["name"] == "mcp__probe__add" and "42" in e["output"] for e in called)
        # the server ran in the worktree, inside the sandbox: what it saw is on the agent's branch
        assert_contained(found, service, git(repo, "show", f"{report['branch']}:server-saw.txt"))


def test_with_sandbox_none_an_mcp_server_runs_unwrapped_after_the_loud_warning(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    outside = tmp_path / "written-on-the-host"
    env = user_config(tmp_path, server_config(f"touch {outside}"))
    listed = agent(["--repo", str(repo), "tool", "--list", "--sandbox", "none"], repo, env)
    assert listed.returncode == 0 and "mcp__probe__add" in listed.stdout, listed.stderr
    assert "WARNING: --sandbox none" in listed.stderr and "MCP stdio servers" in listed.stderr
    assert outside.exists()  # the user's explicit choice: the server ran as they are


async def _shell_over_mcp(repo: Path, env: dict[str, str], commands: list[str]) -> list[Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    argv = ["-m", "agent.cli", "--repo", str(repo), "mcp", "serve"]
    params = StdioServerParameters(
        command=sys.executable, args=argv, env={**os.environ, **env}, cwd=str(repo)
    )
    with tempfile.TemporaryFile("w+") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return [await session.call_tool("shell", {"command": command}) for command in commands]


def test_agent_mcp_serve_runs_the_calling_agents_shell_in_the_sandbox(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    with markers() as found, loopback_service() as service:
        script = probe_script(found, service, "serve-saw.txt")
        results = anyio.run(_shell_over_mcp, repo, {**SECRET_ENV}, [script, "env"])
        assert not results[0].is_error, results[0].content[0].text
        assert SECRET not in results[1].content[0].text  # the environment is scrubbed
        assert_contained(found, service, (repo / "serve-saw.txt").read_text())


def test_agent_mcp_serve_refuses_commands_under_approval_always(tmp_path: Path) -> None:
    """The calling agent's commands need a person's yes that `mcp serve` cannot ask for."""
    repo = median_repo(tmp_path / "repo")
    env = {**SECRET_ENV, **user_config(tmp_path, '[sandbox]\napproval = "always"\n')}
    (refused,) = anyio.run(_shell_over_mcp, repo, env, ["touch ran.txt"])
    assert refused.is_error and "needs a person's approval" in refused.content[0].text
    assert not (repo / "ran.txt").exists()
