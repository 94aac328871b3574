"""`agent mcp add|list|remove`, MCP tools in `agent tool`, and `agent mcp serve` driven by the SDK client."""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.cli.main import main
from agent.mcp.config import McpServerConfig
from tests.mcp_fixtures import SERVER
from tests.repos import make_repo, median_repo


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home / "local-agent" / "config.toml"


def test_add_list_remove_in_user_and_project_config(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = median_repo(tmp_path / "repo")
    xdg.parent.mkdir(parents=True)
    xdg.write_text("# my settings\nmax_steps = 20  # keep it short\n")

    assert (
        main(["--repo", str(repo), "mcp", "add", "docs", "--env", "ROOT=docs", "--", "uvx", "docs-mcp", "-v"])
        == 0
    )
    assert (
        main(["--repo", str(repo), "mcp", "add", "web", "--url", "http://127.0.0.1:9/mcp", "--project"]) == 0
    )
    user_text = xdg.read_text()
    assert "# my settings" in user_text and "# keep it short" in user_text  # the user's comments stay
    user = tomllib.loads(user_text)
    assert user["mcp_servers"]["docs"] == {
        "command": "uvx",
        "args": ["docs-mcp", "-v"],
        "env": {"ROOT": "docs"},
    }
    project = tomllib.loads((repo / ".agent.toml").read_text())
    assert project["mcp_servers"] == {"web": {"url": "http://127.0.0.1:9/mcp"}}

    assert "run `agent trust`" in capsys.readouterr().out  # a project's servers wait for trust
    assert main(["--repo", str(repo), "mcp", "list"]) == 0
    listed = capsys.readouterr()
    assert "docs" in listed.out and "stdio uvx docs-mcp -v" in listed.out and "web" not in listed.out
    assert "ignored mcp_servers from" in listed.err
    assert main(["--repo", str(repo), "trust", "--yes"]) == 0
    capsys.readouterr()
    assert main(["--repo", str(repo), "mcp", "list"]) == 0
    out = capsys.readouterr().out
    assert "docs" in out and "stdio uvx docs-mcp -v" in out
    assert "web" in out and "http  http://127.0.0.1:9/mcp" in out  # trusted: both files' servers apply

    assert main(["--repo", str(repo), "mcp", "remove", "web"]) == 1  # it is in the project file
    assert "use --project" in capsys.readouterr().err
    assert main(["--repo", str(repo), "mcp", "remove", "web", "--project"]) == 0
    assert main(["--repo", str(repo), "mcp", "remove", "docs"]) == 0
    assert "mcp_servers" not in tomllib.loads(xdg.read_text())
    assert tomllib.loads(xdg.read_text())["max_steps"] == 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mcp", "add", "bad.name", "--", "x"], "invalid MCP server name"),
        (["mcp", "add", "both", "--url", "http://h/mcp", "--", "x"], "not both"),
        (["mcp", "add", "neither"], "give a command after `--`"),
        (["mcp", "add", "e", "--env", "NOVALUE", "--", "x"], "is not KEY=VALUE"),
    ],
)
def test_add_refuses_bad_input_with_a_clear_message(
    argv: list[str], message: str, xdg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--repo", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not xdg.exists()


def test_mcp_tools_in_agent_tool(tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = median_repo(tmp_path / "repo")
    assert (
        main(
            ["--repo", str(repo), "mcp", "add", "t", "--project", "--", sys.executable, str(SERVER), "stdio"]
        )
        == 0
    )
    assert main(["--repo", str(repo), "trust", "--yes"]) == 0  # a project's servers wait for trust
    capsys.readouterr()

    assert main(["--repo", str(repo), "tool", "--list"]) == 0
    specs = {spec["name"]: spec for spec in json.loads(capsys.readouterr().out)}
    assert "read_file" in specs and "mcp__t__add" in specs
    assert specs["mcp__t__add"]["parameters"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
    }

    assert main(["--repo", str(repo), "tool", "mcp__t__add", "--args", '{"a": 5, "b": 6}']) == 0
    assert "\n11\n" in capsys.readouterr().out
    assert main(["--repo", str(repo), "tool", "mcp__t__add", "--args", '{"a": "5"}']) == 1
    out = capsys.readouterr().out
    assert "invalid arguments for mcp__t__add" in out and "'b' is a required property" in out


def test_a_broken_server_in_agent_tool_is_reported_and_ours_still_work(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = median_repo(tmp_path / "repo")
    main(
        [
            "--repo",
            str(repo),
            "mcp",
            "add",
            "broken",
            "--project",
            "--",
            sys.executable,
            str(SERVER),
            "fail-start",
        ]
    )
    assert main(["--repo", str(repo), "trust", "--yes"]) == 0
    capsys.readouterr()
    assert main(["--repo", str(repo), "tool", "read_file", "--args", '{"path": "stats.py"}']) == 0
    captured = capsys.readouterr()
    assert "def median" in captured.out
    assert "MCP server 'broken'" in captured.err and "the run goes on without it" in captured.err


async def _drive_serve(repo: Path, extra: list[str]) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agent.cli", "--repo", str(repo), "mcp", "serve", *extra]
    )
    with tempfile.TemporaryFile("w+") as errlog:  # pytest's captured stderr has no file descriptor
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            out: dict[str, Any] = {"tools": {tool.name: tool for tool in listed.tools}}
            if "--read-only" in extra:
                return out
            out["read"] = await session.call_tool("read_file", {"path": "stats.py", "start_line": 2})
            out["pack"] = await session.call_tool("repo_context", {"task": "median of an even-length list"})
            out["bad"] = await session.call_tool("read_file", {"path": 3})
            out["tests"] = await session.call_tool("run_tests", {})
            return out


def test_agent_mcp_serve_driven_by_the_sdk_client(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    (repo / "AGENTS.md").write_text("Run the tests with `python -m pytest -q -p no:cacheprovider`.\n")
    got = anyio.run(_drive_serve, repo, [])

    tools = got["tools"]
    assert {"repo_context", "read_file", "search", "list_files", "run_tests", "shell", "edit_file"} <= set(
        tools
    )
    assert "finish" not in tools
    assert tools["read_file"].input_schema["required"] == ["path"]

    read = got["read"]
    assert not read.is_error and "stats.py (lines 2-4 of 4" in read.content[0].text
    assert read.structured_content["total_lines"] == 4

    pack = got["pack"].content[0].text
    assert "Run the tests with" in pack and "### stats.py" in pack and "def median" in pack
    assert got["pack"].structured_content["instructions"]["files"][0]["path"] == "AGENTS.md"

    bad = got["bad"]
    assert bad.is_error and "invalid arguments for read_file" in bad.content[0].text

    tests = got["tests"]
    assert tests.is_error and "TESTS FAILED: 1 passed, 1 failed" in tests.content[0].text  # the seeded bug


def test_agent_mcp_serve_read_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "a = 1\n"})
    tools = anyio.run(_drive_serve, repo, ["--read-only"])["tools"]
    assert set(tools) == {"repo_context", "read_file", "search", "list_files"}


def test_server_config_needs_exactly_one_transport() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        McpServerConfig(command="x", url="http://h/mcp")
    with pytest.raises(ValueError, match="exactly one of"):
        McpServerConfig()
