"""One task of a batch: build its repository, run `agent fix --headless --json` on it as a child
process (its own worktree, sandbox and engine), and score the change when evaluating (its tests
run in the scoring sandbox of agent/build.py, never on the host with our environment).

The child's stdout (JSON-lines events) is kept in `tasks/<id>/events.jsonl`, its stderr (the live
log) in `tasks/<id>/agent.log`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from pydantic import ValidationError

from agent.batch.results import TaskResult
from agent.batch.sources import SandboxFor, TaskSetupError, tool_env
from agent.batch.tasks import Task
from agent.engines.oracle import write_oracle_script
from agent.events import RUN_EVENT_ADAPTER, RunEvent, RunFinished
from agent.run.workspace import WorkspaceError, apply_branch

OnEvent = Callable[[RunEvent], None]
Phase = Callable[[str], None]


@dataclass(frozen=True)
class RunSettings:
    out: Path
    agent_args: tuple[str, ...] = ()  # flags given to every `agent fix` (engine, budgets)
    evaluate: bool = False
    oracle: bool = False
    task_timeout: float = 2400.0
    scoring: SandboxFor | None = None  # `agent eval`: the sandbox the task's tests score a change in


class Interrupted(Exception):
    """The batch is stopping: the task did not finish."""


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the batch process alone (its children did not get it)."""


class Children:
    """The running `agent fix` processes, so that a stopping batch can interrupt them."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def add(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._procs.add(proc)
        if self.stopping.is_set():
            proc.send_signal(signal.SIGINT)

    def discard(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop(self, grace: float) -> None:
        """Interrupt every child (each removes its worktree and exits). Children share the batch's
        process group, so a Ctrl-C in the terminal has reached them already: they get `grace`
        seconds to finish on their own before the one SIGINT that a signal sent to the batch
        alone (SIGTERM, kill -INT) needs; a second one would cut their cleanup short."""
        self.stopping.set()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._running():
            time.sleep(0.05)
        for proc in self._running():
            proc.send_signal(signal.SIGINT)

    def _running(self) -> list[subprocess.Popen[str]]:
        with self._lock:
            return [proc for proc in self._procs if proc.poll() is None]


@dataclass
class ChildOutcome:
    exit_code: int
    report: dict[str, Any] | None
    timed_out: bool
    log: Path


def fix_argv(task: Task, settings: RunSettings, workdir: Path, test_command: str | None) -> list[str]:
    issue = workdir / "issue.md"
    issue.write_text(task.spec.issue, encoding="utf-8")
    argv = [sys.executable, "-m", "agent.cli", "--repo", str(workdir / "repo"), "fix", "--headless", "--json"]
    argv += ["--issue-file", str(issue), *settings.agent_args]
    if test_command:
        argv += ["--test-cmd", test_command]
    venv = workdir / "repo" / ".task" / "venv"
    if venv.is_dir():  # the task's test venv lies in the checkout the sandbox hides: let commands read it
        argv += ["--sandbox-read", str(venv)]
    if settings.oracle:
        gold = task.source.gold(task.spec, workdir / "repo")
        argv += ["--script", str(write_oracle_script(workdir / "oracle.json", workdir / "repo", gold))]
    return argv


def run_child(
    argv: list[str], workdir: Path, timeout: float, children: Children, on_event: OnEvent
) -> ChildOutcome:
    log = workdir / "agent.log"
    fired = threading.Event()
    with log.open("wb") as err, (workdir / "events.jsonl").open("w", encoding="utf-8") as events:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True, env=tool_env()
        )
        children.add(proc)

        def expire() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(timeout, expire)
        timer.start()
        report: dict[str, Any] | None = None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                events.write(line)
                events.flush()
                try:
                    event = RUN_EVENT_ADAPTER.validate_json(line)
                except ValidationError:
                    continue
                if isinstance(event, RunFinished):
                    report = event.report
                on_event(event)
            code = proc.wait()
        finally:
            timer.cancel()
            children.discard(proc)
    return ChildOutcome(exit_code=code, report=report, timed_out=fired.is_set(), log=log)


def _log_tail(log: Path, chars: int = 1500) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:].strip()


def result_from(task: Task, outcome: ChildOutcome, timeout: float) -> TaskResult:
    if outcome.timed_out:
        return TaskResult(id=task.id, status="timeout", error=f"killed after {timeout:.0f}s")
    report = outcome.report
    if report is None:
        error = f"agent fix exited with code {outcome.exit_code} and no report:\n{_log_tail(outcome.log)}"
        return TaskResult(id=task.id, status="error", exit_code=outcome.exit_code, error=error)
    test_env = report.get("test_env") or {}
    problem = test_env.get("problem") if isinstance(test_env, dict) else None
    return TaskResult(
        id=task.id,
        status="setup_error" if problem else report["status"],
        error=str(problem or ""),
        exit_code=outcome.exit_code,
        engine=str(report.get("engine", "")),
        model=str(report.get("model", "")),
        branch=report.get("branch"),
        patch=str(report.get("diff", "")),
        steps=int(report.get("steps", 0)),
        tool_calls=int(report.get("tool_calls", 0)),
        report={k: v for k, v in report.items() if k != "diff"},
    )


def score(task: Task, repo: Path, result: TaskResult, sandbox_for: SandboxFor) -> None:
    """Apply the agent's branch to the task's tree and run the task's tests on it, in the sandbox."""
    if not result.branch:
        result.resolved, result.failed_tests = False, list(task.spec.fail_to_pass)
        return
    try:
        apply_branch(git.Repo(repo), result.branch)
    except WorkspaceError as exc:
        result.resolved, result.error = False, f"the change does not apply: {exc}"
        return
    verdict = task.source.score(task.spec, repo, sandbox_for)
    result.resolved, result.failed_tests = verdict.resolved, verdict.failed


def run_task(
    task: Task, settings: RunSettings, children: Children, on_event: OnEvent, phase: Phase
) -> TaskResult:
    """Everything for one task; never raises for a task's own failure (it is in the result)."""
    started = time.monotonic()
    workdir = settings.out / "tasks" / task.id
    shutil.rmtree(workdir, ignore_errors=True)  # what an interrupted earlier attempt left
    workdir.mkdir(parents=True)
    try:
        phase("building")
        task.source.materialize(task.spec, workdir / "repo")
        phase("preparing tests")
        test_command = task.source.prepare(task.spec, workdir / "repo")
        argv = fix_argv(task, settings, workdir, test_command)
        task.source.conceal(task.spec, workdir / "repo")
        if children.stopping.is_set():
            raise Interrupted
        phase("agent")
        outcome = run_child(argv, workdir, settings.task_timeout, children, on_event)
        if children.stopping.is_set() and outcome.report is None:
            raise Interrupted
        result = result_from(task, outcome, settings.task_timeout)
        if settings.evaluate and result.status not in ("error", "timeout", "setup_error"):
            phase("scoring")
            assert settings.scoring is not None, "agent eval builds a scoring sandbox (agent/build.py)"
            score(task, workdir / "repo", result, settings.scoring)
    except TaskSetupError as exc:
        result = TaskResult(id=task.id, status="setup_error", error=str(exc))
    except Interrupted:
        result = TaskResult(id=task.id, status="interrupted")
    result.seconds = round(time.monotonic() - started, 1)
    return result
