"""Every `agent fix` ends with a report and its exit code, whatever went wrong and when.

With `--json` the last line on stdout is always a `run_finished` event, also when the run never
started (a usage or engine error), so a CI script can tell "failed to start" from "no output".
Ctrl-C at any point of the start-up exits 130 and leaves the repository exactly as it was; a
repository the agent cannot write to is a usage error that says so."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.events import RUN_EVENT_ADAPTER, RunFinished
from agent.run.exitcodes import EXIT_ENGINE, EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for
from agent.run.report import RunReport
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git, median_repo, snapshot

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT
UNCHANGED = "your repository is exactly as it was"


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CI"}


def agent(args: list[str], cwd: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), *AGENT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env(),
        stdin=subprocess.DEVNULL,
    )


def last_event(stdout: str) -> RunFinished:
    event = RUN_EVENT_ADAPTER.validate_json(stdout.strip().splitlines()[-1])
    assert isinstance(event, RunFinished), stdout[-2000:]
    return event


def no_agent_traces(repo: Path) -> None:
    """No branch, no worktree, nothing left of a run."""
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    worktrees = repo / ".git" / ".agent" / "worktrees"
    assert not worktrees.exists() or not any(worktrees.iterdir())


# ---- run_finished is the last line, also when the run never started -------------------------------


def test_a_usage_error_ends_the_json_stream_with_run_finished(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    both = agent(["fix", "words", "--issue-file", "x.md", "--script", str(SCRIPT), "--json"], repo)
    assert both.returncode == EXIT_USAGE and "exactly one way" in both.stderr
    last = last_event(both.stdout)
    assert last.exit_code == EXIT_USAGE and "exactly one way" in (last.error or "")
    assert last.report["status"] == "error" and last.report["stop_reason"] == "usage_error"
    RunReport.model_validate(last.report)  # readers of the report (batch, `agent pr`) can load it
    flag = agent(["fix", "words", "--json", "--max-steps", "many"], repo)
    assert flag.returncode == EXIT_USAGE and "invalid int value" in flag.stderr
    assert last_event(flag.stdout).exit_code == EXIT_USAGE
    outside = agent(["fix", "words", "--script", str(SCRIPT), "--json"], tmp_path)
    assert outside.returncode == EXIT_USAGE and "not inside a git repository" in outside.stderr
    assert last_event(outside.stdout).exit_code == EXIT_USAGE


def test_an_engine_error_ends_the_json_stream_with_run_finished(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = agent(["fix", "median is wrong", "--base-url", f"http://127.0.0.1:{port}/v1", "--json"], repo)
    assert result.returncode == EXIT_ENGINE and "engine error" in result.stderr
    last = last_event(result.stdout)
    assert last.exit_code == EXIT_ENGINE and "Connection refused" in (last.error or "")
    assert last.report["status"] == "error" and last.report["stop_reason"] == "engine_error"
    no_agent_traces(repo)


def test_a_finished_run_carries_its_exit_code(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = agent(["fix", "median of an even-length list is wrong", "--script", str(SCRIPT), "--json"], repo)
    assert result.returncode == 0
    last = last_event(result.stdout)
    assert last.exit_code == 0 and last.error is None and last.report["status"] == "resolved"


def test_an_error_after_the_run_started_still_ends_with_the_report(tmp_path: Path) -> None:
    """The change is made, but `--apply` meets the user's own edit: the report says both."""
    repo = median_repo(tmp_path / "r")
    (repo / "stats.py").write_text("# the user's own edit\n")
    before = snapshot(repo)
    args = ["fix", "median of an even-length list is wrong", "--script", str(SCRIPT), "--apply"]
    result = agent([*args, "--json"], repo)
    assert result.returncode == EXIT_USAGE and "does not apply cleanly" in result.stderr
    last = last_event(result.stdout)
    assert last.exit_code == EXIT_USAGE and "does not apply cleanly" in (last.error or "")
    assert last.report["status"] == "resolved" and not last.report["applied"]
    branch = last.report["branch"]
    assert branch and branch in git(repo, "branch", "--format=%(refname:short)").split()
    assert snapshot(repo) == before  # the user's edit is untouched
    text = agent(args, repo)
    assert text.returncode == EXIT_USAGE and "== RESOLVED" in text.stdout
    assert "not applied to your working tree" in text.stdout and "does not apply cleanly" in text.stderr


def test_exit_codes_follow_the_report() -> None:
    def code(status: str, stop_reason: str) -> int:
        return exit_code_for(RunReport(session_id="s", task="t", status=status, stop_reason=stop_reason))

    assert code("resolved", "finished") == 0
    assert code("not_resolved", "max_steps") == 1 and code("no_change", "no_progress") == 1
    assert code("error", "usage_error") == EXIT_USAGE
    assert code("error", "engine_error") == EXIT_ENGINE and code("error", "internal_error") == EXIT_ENGINE
    assert code("interrupted", "interrupted") == EXIT_INTERRUPTED


# ---- Ctrl-C during the start-up ---------------------------------------------------------------------


def interrupt_when(args: list[str], repo: Path, ready: str, stream: str) -> tuple[int, str, str]:
    """Start `agent ARGS`, send SIGINT once `ready` shows on `stream` ("stdout"/"stderr")."""
    proc = subprocess.Popen(
        [*AGENT, *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    watched = proc.stdout if stream == "stdout" else proc.stderr
    assert watched is not None
    seen = []
    for line in watched:
        seen.append(line)
        if ready in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if stream == "stdout":
        out = "".join(seen) + out
    else:
        err = "".join(seen) + err
    return proc.returncode, out, err


def test_ctrl_c_during_the_baseline_tests_leaves_the_repository_as_it_was(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    started = time.monotonic()
    args = ["fix", "median is wrong", "--script", str(SCRIPT), "--json", "--test-cmd", "sleep 60"]
    code, out, err = interrupt_when(args, repo, '"id":"baseline"', "stdout")
    assert code == EXIT_INTERRUPTED and UNCHANGED in err and "Traceback" not in err, err[-3000:]
    assert time.monotonic() - started < 50  # the sleeping test command was killed, not waited for
    last = last_event(out)
    assert last.exit_code == EXIT_INTERRUPTED and last.report["status"] == "interrupted"
    assert snapshot(repo) == before
    no_agent_traces(repo)


def test_ctrl_c_while_the_program_loads_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """`-X importtime` shows each module as it is imported: the signal lands while they load."""
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "agent.cli", "fix", "x", "--script", str(SCRIPT)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "pydantic" in line:
            break
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert UNCHANGED in err and "Traceback" not in err
    assert snapshot(repo) == before
    no_agent_traces(repo)


# ---- a repository the agent cannot write to ----------------------------------------------------------


def read_only(paths: list[Path]) -> list[str]:
    """A command prefix under which `paths` cannot be written. chmod does not stop root, so as root
    a read-only bind mount (bubblewrap) does it; otherwise the directories lose their write bits."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555)
        return []
    binds = [arg for path in paths for arg in ("--ro-bind", str(path), str(path))]
    return ["bwrap", "--bind", "/", "/", *binds, "--dev", "/dev", "--proc", "/proc", "--"]


@pytest.mark.parametrize("which", ["git dir", "whole repository"])
def test_a_read_only_repository_is_a_usage_error_that_says_so(tmp_path: Path, which: str) -> None:
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    prefix = read_only([repo / ".git"] if which == "git dir" else [repo, repo / ".git"])
    try:
        # no sandbox: a bubblewrap sandbox cannot be nested in the read-only mount
        args = ["fix", "median is wrong", "--script", str(SCRIPT), "--json", "--sandbox", "none"]
        result = agent(args, repo, prefix)
    finally:
        for path in (repo, repo / ".git"):
            path.chmod(0o755)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == EXIT_USAGE, result.stderr[-3000:]
    assert "cannot write to" in result.stderr and str(repo / ".git") in result.stderr
    assert "writable clone" in result.stderr
    last = last_event(result.stdout)
    assert last.exit_code == EXIT_USAGE and "cannot write to" in (last.error or "")
    assert snapshot(repo) == before
    no_agent_traces(repo)


def test_apply_to_a_read_only_checkout_is_refused_before_the_run(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    prefix = read_only([repo])
    # a writable .git inside the read-only checkout: the run itself could work, `--apply` cannot
    if prefix:
        prefix[-1:-1] = ["--bind", str(repo / ".git"), str(repo / ".git")]
    try:
        args = ["fix", "median is wrong", "--script", str(SCRIPT), "--apply", "--sandbox", "none"]
        result = agent(args, repo, prefix)
    finally:
        repo.chmod(0o755)
    assert result.returncode == EXIT_USAGE, result.stderr[-3000:]
    assert "--apply" in result.stderr and f"cannot write to {repo}" in result.stderr
    no_agent_traces(repo)
