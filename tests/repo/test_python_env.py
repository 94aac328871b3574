"""The tests' interpreter (agent/repo/python_env.py) on real virtual environments: found in the
order a developer's would be, run in the real bubblewrap sandbox (a repository's untracked `.venv`
bind-mounted at its own path), and, when none can run the tests, the one line naming the fix in
the events and the report, and a `setup_error` in `agent eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.events import InterpreterFound, Notice, ToolFinished
from agent.repo.python_env import Candidate, candidates, detect, poetry_env_prefix, sandbox_runner
from tests.batch_support import median_tasks, results
from tests.commands import AGENT, run_agent
from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo
from tests.sandboxes import sandboxes
from tests.scripts import run_fix, scripted

PYTEST_HOME = Path(pytest.__file__).resolve().parent.parent  # the site-packages that hold pytest


def make_venv(where: Path, with_pytest: bool) -> Path:
    """A real venv (no pip: fast); pytest comes from ours through a .pth file, as a developer's
    `pip install pytest` would make it importable."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    if with_pytest:
        (site,) = where.glob("lib/python*/site-packages")
        (site / "pytest_from_agent.pth").write_text(f"{PYTEST_HOME}\n")
    return where


def sources(found: list[Candidate]) -> list[str]:
    return [c.source for c in found]


def test_candidates_come_in_a_developers_order(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    active = make_venv(tmp_path / "active", with_pytest=False)
    make_venv(repo / ".venv", with_pytest=False)
    make_venv(repo / "venv", with_pytest=False)
    env = {"HOME": str(tmp_path / "home"), "VIRTUAL_ENV": str(active)}
    found = candidates(repo, env, named=("/opt/py/bin/python3", "flag"))
    assert sources(found) == ["flag", "virtual_env", "venv", "venv", "path", "path", "agent"]
    assert [c.interpreter for c in found[1:4]] == [
        str(active / "bin" / "python"),
        str(repo / ".venv" / "bin" / "python"),
        str(repo / "venv" / "bin" / "python"),
    ]
    assert str((repo / ".venv").resolve()) in found[2].exposes  # mounted where its scripts expect it
    (repo / "uv.lock").write_text("version = 1\n")
    assert sources(candidates(repo, {}))[:2] == ["uv", "venv"]


def test_a_symlinked_venv_is_not_followed_and_nothing_uncovers_the_home(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    home = tmp_path / "home"
    elsewhere = make_venv(home / "secret-venv", with_pytest=False)
    (repo / ".venv").symlink_to(elsewhere)  # a cloned repository could ship this
    (repo / "venv").symlink_to(home)
    found = candidates(repo, {"HOME": str(home)}, named=(str(home / "bin" / "python"), "config"))
    assert sources(found) == ["config", "path", "path", "agent"]
    assert found[0].exposes == []  # its prefix would be the home directory itself


def test_poetry_and_tox_environments_are_found_where_the_tools_keep_them(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text('[tool.poetry]\nname = "My Stats"\n')
    (repo / "poetry.lock").write_text("")
    cache = tmp_path / "cache"
    prefix = poetry_env_prefix("My Stats", repo)
    assert prefix.startswith("my_stats-") and prefix.endswith("-py") and len(prefix) == len("my_stats-") + 11
    poetry = make_venv(cache / "pypoetry" / "virtualenvs" / f"{prefix}3.11", with_pytest=False)
    make_venv(cache / "pypoetry" / "virtualenvs" / "my_stats-OTHERCHK-py3.11", with_pytest=False)
    (repo / "tox.ini").write_text("[tox]\n")
    tox = make_venv(repo / ".tox" / "py311", with_pytest=False)
    found = candidates(repo, {"XDG_CACHE_HOME": str(cache)})
    assert [(c.source, c.interpreter) for c in found[:2]] == [
        ("tox", str(tox / "bin" / "python")),
        ("poetry", str(poetry / "bin" / "python")),
    ]


def test_no_interpreter_with_pytest_gives_the_one_line_fix(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    bare = make_venv(tmp_path / "bare", with_pytest=False)
    built = sandboxes(repo, AgentConfig(python=str(bare / "bin" / "python")))  # the venv shown read-only
    assert built.probe is not None and built.pythons[0].exposes[0] == str(bare)
    run = sandbox_runner(built.probe, repo)
    named = built.pythons[0].model_copy(update={"source": "flag"})
    env = detect([named, Candidate(interpreter=sys.executable, source="agent")], run)
    assert (env.interpreter, env.source, env.pytest) == (str(bare / "bin" / "python"), "flag", False)
    assert env.problem == (
        f"the tests cannot run: {bare}/bin/python (--python) cannot import pytest. Fix: {bare}/bin/python "
        '-m pip install pytest, or give the command that runs the tests: --test-cmd "..." (test_command '
        "in the config)"
    )
    missing = detect([Candidate(interpreter="/nonexistent/python", source="path")], run)
    assert missing.interpreter is None and missing.problem is not None and "--python PATH" in missing.problem


def test_a_run_tests_with_the_repositorys_untracked_venv_in_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)  # an active venv would come first
    repo = median_repo(tmp_path / "repo")
    venv = make_venv(repo / ".venv", with_pytest=True)  # untracked: not in the agent's worktree
    report, events = run_fix(repo, scripted())
    found = [e for e in events if isinstance(e, InterpreterFound)]
    assert [(e.interpreter, e.source, e.pytest, e.problem) for e in found] == [
        (str(venv / "bin" / "python"), "venv", True, None)
    ]
    assert report.test_env is not None and report.test_env.interpreter == str(venv / "bin" / "python")
    runs = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    baseline = runs[0].data
    assert baseline["command"].startswith(f"{venv}/bin/python -m pytest")
    assert (baseline["passed"], baseline["failed"]) == (1, 1)  # real counts, from the venv's pytest
    assert report.status == "resolved" and report.tests.passed == 2


def headless_events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_virtual_env_is_used_by_the_cli(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    active = make_venv(tmp_path / "active", with_pytest=True)
    args = [
        "fix",
        "--headless",
        "--json",
        "--script",
        str(MEDIAN_SCRIPT),
        "--repair",
        "off",
        "--reproduce",
        "off",
    ]
    done = run_agent([*args, "median of an even-length list is wrong"], repo, {"VIRTUAL_ENV": str(active)})
    events = headless_events(done.stdout)
    (found,) = [e for e in events if e["kind"] == "test_env"]
    assert (found["interpreter"], found["source"], found["pytest"]) == (
        f"{active}/bin/python",
        "virtual_env",
        True,
    )
    assert events[-1]["report"]["test_env"]["source"] == "virtual_env"
    assert done.returncode == 0, done.stderr


def test_no_environment_says_so_before_the_first_model_call_and_in_the_report(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    bare = make_venv(tmp_path / "bare", with_pytest=False)
    args = ["fix", "--headless", "--json", "--script", str(MEDIAN_SCRIPT), "--python", f"{bare}/bin/python"]
    done = run_agent([*args, "--repair", "off", "--reproduce", "off", "median is wrong"], repo)
    events = headless_events(done.stdout)
    kinds = [e["kind"] for e in events]
    problem = events[kinds.index("test_env")]["problem"]
    assert problem.startswith(f"the tests cannot run: {bare}/bin/python (--python) cannot import pytest")
    assert kinds.index("test_env") < kinds.index("step")
    assert events[kinds.index("test_env") + 1] == Notice(level="warning", message=problem).model_dump()
    assert f"{bare}/bin/python -m pip install pytest" in done.stderr  # the console's one line
    assert events[-1]["report"]["test_env"]["problem"] == problem


def test_eval_counts_a_task_whose_tests_cannot_run_as_a_setup_error(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 1)
    bare = make_venv(tmp_path / "bare", with_pytest=False)
    config = tmp_path / "config" / "local-agent" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'python = "{bare}/bin/python"\n')
    out = tmp_path / "out"
    argv = [*AGENT, "eval", str(tasks), "--script", str(MEDIAN_SCRIPT), "--out", str(out)]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )
    result = results(out)["median-0"]
    assert result["status"] == "setup_error" and "-m pip install pytest" in result["error"]
    assert done.returncode == 1, done.stderr  # a harness failure, never a plain 0
