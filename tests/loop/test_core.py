"""The whole `agent fix` path through the loop (agent/loop/core.py) with a scripted engine making
real tool calls on a real repository, in the real sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import git
import pytest

from agent.build import fix_run
from agent.config import AgentConfig
from agent.engines.scripted import ScriptedEngine
from agent.events import ModelError, RunEvent, RunFinished, RunStarted, ToolFinished
from agent.run.fix import FixRequest
from agent.run.session import read_trajectory
from agent.run.workspace import Workspace, apply_branch
from sandbox.egress import PROXIED
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import snapshot
from tests.sandboxes import sandboxes
from tests.scripts import (
    EDIT,
    FINISH,
    PLAN,
    READ,
    TEST,
    WRONG_EDIT,
    run_fix,
    turns,
)


def test_scripted_fix_lands_on_branch_and_leaves_checkout_untouched(user_repo: Path) -> None:
    before = snapshot(user_repo)
    report, events = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, EDIT, TEST, FINISH)))

    assert report.status == "resolved", report
    assert report.stop_reason == "finished"
    assert report.tests.ok and report.tests.passed == 2 and report.tests.failed == 0
    assert report.files_changed == ["stats.py"]
    assert report.plan == ["Read stats.py", "Fix the even case", "Run the tests"]
    assert report.branch is not None and report.branch.startswith("agent/median-of-an-even")
    assert report.sandbox == "bubblewrap (workspace, network off)"
    assert snapshot(user_repo) == before

    # the commit on the agent's branch holds the fix and the tests pass there
    fixed = run_git(user_repo, "show", f"{report.branch}:stats.py")
    assert "(s[mid - 1] + s[mid]) / 2" in fixed
    assert (
        report.patch_path
        and "+        return (s[mid - 1] + s[mid]) / 2" in Path(report.patch_path).read_text()
    )
    # the worktree is gone, the trajectory is complete
    assert not any(
        p.name == report.session_id for p in (user_repo / ".git" / ".agent" / "worktrees").glob("*")
    )
    saved = list(read_trajectory(Path(report.trajectory_path or "")))
    assert isinstance(saved[-1], RunFinished) and saved[-1].report["status"] == "resolved"
    assert sum(isinstance(e, ToolFinished) for e in events) >= 4


def test_malformed_model_output_is_reported_not_fatal(user_repo: Path) -> None:
    before = snapshot(user_repo)
    script = turns(
        PLAN,
        {
            "raw": 'Let me look.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "stats.py",}}\n'
            "</tool_call>"
        },
        {"raw": '<tool_call>\n{"name": "read_file", "arguments": {"path": </tool_call>'},  # broken JSON
        {"tool_calls": [{"name": "open_file", "arguments": {"path": "stats.py"}}]},  # unknown tool
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "stats.py", "start_line": "one"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": '{"path": "stats.py"'}]},  # bad JSON string
        {"text": "I think it is fine."},  # no tool call at all
        EDIT,
        TEST,
        FINISH,
    )
    report, events = run_fix(user_repo, ScriptedEngine(script))

    assert report.status == "resolved"
    errors = report.model_errors
    assert errors.get("unknown_tool") == 1
    assert errors.get("schema") == 1
    assert errors.get("parse_error") == 2
    assert errors.get("no_tool_call") == 1
    assert sum(isinstance(e, ModelError) for e in events) == sum(errors.values())
    assert snapshot(user_repo) == before


def test_run_without_fix_is_not_resolved_and_keeps_nothing(user_repo: Path) -> None:
    before = snapshot(user_repo)
    branches = run_git(user_repo, "branch", "--list")
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, TEST)), max_steps=3)
    assert report.status == "no_change" and report.stop_reason == "max_steps"
    assert report.branch is None and report.commit is None
    assert run_git(user_repo, "branch", "--list") == branches
    assert snapshot(user_repo) == before


def test_ctrl_c_leaves_the_repository_exactly_as_it_was(user_repo: Path) -> None:
    before = snapshot(user_repo)
    branches = run_git(user_repo, "branch", "--list")
    with pytest.raises(KeyboardInterrupt):
        run_fix(user_repo, RecordingEngine(turns(PLAN, READ, EDIT, TEST, FINISH), interrupt_at=4))
    assert snapshot(user_repo) == before
    assert run_git(user_repo, "branch", "--list") == branches
    assert run_git(user_repo, "worktree", "list").count("\n") == 1


def test_apply_brings_the_change_into_the_working_tree(user_repo: Path) -> None:
    report, _ = run_fix(user_repo, ScriptedEngine(turns(PLAN, READ, EDIT, TEST, FINISH)))
    assert report.branch
    files = apply_branch(git.Repo(user_repo), report.branch)
    assert files == ["stats.py"]
    assert "(s[mid - 1] + s[mid]) / 2" in (user_repo / "stats.py").read_text()
    assert (user_repo / "README.md").read_text() == "# stats\nwork in progress\n"  # the user's edit kept
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=user_repo,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_the_setup_step_prepares_the_environment_the_tests_then_use(user_repo: Path) -> None:
    """setup_command runs once with network allowed; the tests run after it, network off, and see it."""
    from sandbox.config import SandboxConfig

    tool = '"$AGENT_ENV/bin/t"'
    setup = (
        f'mkdir -p "$AGENT_ENV/bin" && printf "#!/bin/sh\\necho prepared-tool\\n" > {tool} && chmod +x {tool}'
    )
    sandbox_config = SandboxConfig(setup_command=setup)
    events: list[RunEvent] = []
    config = AgentConfig(max_steps=12, test_command="t && python3 -m pytest -q", sandbox=sandbox_config)
    script = ScriptedEngine(turns(PLAN, EDIT, TEST, FINISH))
    run = fix_run(script, sandboxes(user_repo, config), config, events.append)
    report = run.run(FixRequest(task="median of an even-length list is wrong", repo=git.Repo(user_repo)))
    notices = [e.message for e in events if e.kind == "notice"]
    assert any(n.startswith(f"setup `{setup}`: exit code 0") for n in notices), notices
    started = next(e for e in events if isinstance(e, RunStarted))  # the banner names each network
    assert started.setup == f"bubblewrap (workspace, {PROXIED})"
    assert started.sandbox == "bubblewrap (workspace, network off)"
    setup_notice = next(n for n in notices if n.startswith(f"setup `{setup}`"))
    assert (
        PROXIED in setup_notice
        and "the model's commands: bubblewrap (workspace, network off)" in setup_notice
    )
    assert report.status == "resolved" and report.tests.ok
    outputs = [e.output for e in events if isinstance(e, ToolFinished)]
    assert any("prepared-tool" in o for o in outputs)


def test_a_bug_of_ours_mid_run_ends_with_an_error_report_and_keeps_the_work(
    user_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop 18's benchmark: setting an attempt aside raised inside GitPython and the process died
    with a traceback; a run must end with a report whatever breaks."""
    before = snapshot(user_repo)

    def broken(self: Workspace, journal: object = None) -> str:
        raise RuntimeError("read of closed file")

    monkeypatch.setattr(Workspace, "set_aside", broken)
    stuck = [WRONG_EDIT, TEST, READ, TEST, READ, TEST, READ, TEST]
    engine = RecordingEngine(turns(PLAN, *stuck, EDIT, TEST, FINISH))
    report, _ = run_fix(user_repo, engine, max_steps=20, max_attempts=3)
    assert report.status == "error" and report.stop_reason == "internal_error"
    assert any("internal error, please report it: RuntimeError" in n for n in report.notices)
    assert "middle = s" in report.diff and report.branch  # the attempt's change is kept, verified
    assert report.tests.ran and not report.tests.ok
    # the tests run before any change still judge the tree: the one that failed then is not
    # a regression of the kept change
    assert report.evidence is not None and report.evidence.regressions == [], report.verdict
    assert "no test failed before the change" not in report.verdict
    assert snapshot(user_repo) == before
