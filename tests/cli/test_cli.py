"""The `agent` console script as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.cli.headless import report_from_stream
from tests.commands import AGENT, run_agent
from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo, snapshot


def test_tool_list_prints_schemas(tmp_path: Path) -> None:
    result = run_agent(["tool", "--list"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    specs = json.loads(result.stdout)
    names = {s["name"] for s in specs}
    assert {
        "read_file",
        "list_files",
        "search",
        "edit_file",
        "create_file",
        "run_tests",
        "shell",
        "finish",
    } <= names
    assert all(s["parameters"]["type"] == "object" for s in specs)


def test_tool_by_hand_reads_and_validates(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    ok = run_agent(["tool", "read_file", "--args", '{"path": "stats.py"}'], cwd=repo)
    assert ok.returncode == 0 and "return s[len(s) // 2]" in ok.stdout
    structured = run_agent(["tool", "run_tests", "--args", "{}", "--json"], cwd=repo)
    data = json.loads(structured.stdout)
    assert data["result"]["data"]["passed"] == 1 and data["result"]["data"]["failed"] == 1
    bad = run_agent(["tool", "read_file", "--args", '{"path": 3}'], cwd=repo)
    assert bad.returncode == 1 and "path" in bad.stdout


def test_fix_outside_a_repository_names_the_fix(tmp_path: Path) -> None:
    result = run_agent(["fix", "anything", "--script", "/nonexistent.json"], cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr and "git init" in result.stderr


def test_fix_with_a_script_resolves_from_the_command_line(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    script = MEDIAN_SCRIPT
    before = snapshot(repo)
    result = run_agent(
        ["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], cwd=repo
    )
    assert result.returncode == 0, result.stderr
    report = report_from_stream(result.stdout)
    assert report["status"] == "resolved" and report["tests"]["ok"]
    assert snapshot(repo) == before
    applied = run_agent(["apply", report["branch"]], cwd=repo)
    assert applied.returncode == 0 and "stats.py" in applied.stdout


@pytest.mark.model
def test_fix_on_the_embedded_engine_with_the_small_model(tmp_path: Path, gemma_path: Path) -> None:
    """The real path: console script, embedded llama.cpp, the 270M model. It cannot fix the bug;
    the run must still end with a clear report and leave the repository unchanged."""
    repo = median_repo(tmp_path / "r")
    (repo / "README.md").write_text("uncommitted edit\n")
    before = snapshot(repo)
    agent = shutil.which("agent") or ""
    cmd = [agent] if agent else AGENT
    result = subprocess.run(
        [
            *cmd,
            "fix",
            "median([1, 2, 3, 4]) returns 3 but should return 2.5",
            "--max-steps",
            "3",
            "--ctx",
            "4096",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "AGENT_MODEL": str(gemma_path)},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert ("== RESOLVED" in result.stdout) or ("== NOT RESOLVED" in result.stdout), result.stdout
    assert "steps:" in result.stdout and "engine: llama.cpp" in result.stdout
    assert snapshot(repo) == before
