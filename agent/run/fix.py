"""`agent fix`: one task from start to report, in the agent's own worktree.

The user's checkout, index and uncommitted changes are never touched here; Ctrl-C removes the
worktree and the branch, leaving the repository exactly as it was.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import git
from pydantic_core import PydanticSerializationError

from agent.config import AgentConfig
from agent.context import resolve_budget
from agent.engines.base import Engine, EngineError
from agent.errors import OutputClosed, UserError
from agent.events import InterpreterFound, Notice, RunEvent, RunFinished, RunStarted, printable
from agent.formats.jsonrepair import no_surrogates
from agent.loop import AgentLoop, LoopState, Toolset, Worktree
from agent.loop.confirm import confirm_regressions
from agent.loop.held_back import HeldBackCheck, held_back_of
from agent.models.speed import SpeedBook
from agent.repo.dirs import agent_dir, cache_dir, session_dir
from agent.repo.journal import EditJournal
from agent.repo.python_env import PythonEnv, candidates, detect, sandbox_runner
from agent.repo.stray_guard import StrayGuard
from agent.run.exitcodes import EXIT_ENGINE, EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for
from agent.run.report import RepairSummary, RunReport, Status, TestSummary, report_dict
from agent.run.repro_brief import repro_brief
from agent.run.sandboxes import RunSandboxes
from agent.run.session import Trajectory, new_session_id
from agent.run.setup import RunSetup, prepare_run
from agent.run.start_context import start_context
from agent.run.time_sized import time_sized
from agent.run.undo import journal_path
from agent.run.verdict import verdict_of
from agent.run.workspace import Workspace, WorkspaceError, apply_branch
from agent.steering import Steering
from sandbox.select import run_setup
from tools.base import Tool, ToolContext, command_env_for
from tools.run_tests import has_pytest_suite

Emit = Callable[[RunEvent], None]
# makes the run's loop: (toolset, its context, the worktree, emit, steering) -> AgentLoop (agent/build.py)
LoopFactory = Callable[[Toolset, ToolContext, Worktree, Emit, Steering | None], AgentLoop]


@dataclass
class FixRequest:
    task: str
    repo: git.Repo
    apply: bool = False
    github_issue: int | None = None  # where the task came from (`--github-issue`), for `agent pr`


def _tests_summary(data: dict[str, object] | None, command: str) -> TestSummary:
    if not data:
        return TestSummary(command=command)
    failing = data.get("failing") or []
    return TestSummary(
        command=str(data.get("command", command)),
        ran=True,
        ok=bool(data.get("ok")),
        passed=int(str(data.get("passed", 0))),
        failed=int(str(data.get("failed", 0))),
        errors=int(str(data.get("errors", 0))),
        exit_code=int(str(data["exit_code"])) if data.get("exit_code") is not None else None,
        failing=[str(f) for f in failing] if isinstance(failing, list) else [],
    )


@dataclass
class JournaledWorktree:
    """The agent's worktree as the loop sees it (agent/loop/base.py `Worktree`): the journal keeps
    the edits a set-aside change takes with it."""

    workspace: Workspace
    journal: EditJournal

    def has_changes(self) -> bool:
        return bool(self.workspace.changed_files())

    def set_aside(self) -> str:
        return self.workspace.set_aside(self.journal)

    def code_version(self) -> str:
        return hashlib.blake2b(self.workspace.diff().encode(), digest_size=12).hexdigest()

    def restore(self, diff: str) -> None:
        self.workspace.restore(diff, self.journal)

    def keep(self) -> None:
        self.workspace.keep()

    def changes(self) -> list[tuple[str, str | None, str | None]]:
        return self.workspace.changes()


class FixRun:
    """Wires engine, tools, sandboxes and workspace for one task, and builds the report.

    agent/build.py (`fix_run`) makes it: `sandboxes` runs the model's commands, the setup step
    (before the first step, internet through the egress proxy) and the MCP stdio servers, and its
    approver answers for them; `tools` are ours for this engine; `new_loop` makes the agent loop
    once the worktree exists."""

    def __init__(
        self,
        engine: Engine,
        sandboxes: RunSandboxes,
        config: AgentConfig,
        emit: Emit,
        steering: Steering | None = None,
        *,
        tools: Sequence[Tool],
        new_loop: LoopFactory,
        speeds: SpeedBook | None = None,
    ) -> None:
        self.engine = engine
        self.speeds = speeds  # the model's measured speed sizes the context (agent/run/time_sized.py)
        self.tools = list(tools)  # ours; the configured MCP servers' join at setup
        self.new_loop = new_loop
        self.steering = steering
        self.sandboxes = sandboxes
        self.sandbox = sandboxes.commands
        self.config = config
        self._emit = emit
        self.session_id = new_session_id()
        self._trajectory: Trajectory | None = None
        self._swept: list[str] = []  # nested repositories and special files removed from the worktree
        self.failure: tuple[int, str] | None = None  # (exit code, message) of an error that ended the run
        self.python_env: PythonEnv | None = None  # the tests' interpreter, found before the first model call

    def emit(self, event: RunEvent) -> None:
        if self._trajectory is not None:
            try:
                self._trajectory.write(event)
            except PydanticSerializationError:  # a lone surrogate in a model's text or a file name
                event = printable(event)
                self._trajectory.write(event)
        self._emit(event)

    def sweep_notice(self, message: str) -> None:
        """A stray removed from the worktree (agent/repo/strays.py): the user hears, the report keeps it."""
        self._swept.append(message)
        self.emit(Notice(level="warning", message=message))

    def run(self, request: FixRequest) -> RunReport:
        """The run's report, whatever happens once it started (an error is a report with status
        "error"; `failure` then holds its exit code and message). Ctrl-C removes the worktree and
        the branch and raises `RunInterrupted`, which carries the report."""
        started = time.monotonic()
        check_writable(request.repo, request.apply)
        self._trajectory = Trajectory(agent_dir(request.repo) / "sessions", self.session_id)
        try:
            workspace = Workspace.create(request.repo, self.session_id, request.task)
        except BaseException:
            self._trajectory.close()
            raise
        workspace.notify = self.sweep_notice
        commit: str | None = None
        try:
            report = self._attempt(workspace, request, started)
            commit = report.commit
            self._apply(request, report)
            error = self.failure[1] if self.failure else None
            self.emit(RunFinished(report=report_dict(report), error=error))
            return report
        except KeyboardInterrupt as exc:
            message = "interrupted by the user: worktree and branch removed"
            self.emit(Notice(level="warning", message=message))
            report = self._stopped(request, started, "interrupted", "interrupted", message)
            self.emit(RunFinished(report=report_dict(report), exit_code=EXIT_INTERRUPTED, error=message))
            raise RunInterrupted(report) from exc
        finally:
            workspace.remove(keep_branch=commit is not None)
            self._trajectory.close()

    def _attempt(self, workspace: Workspace, request: FixRequest, started: float) -> RunReport:
        """`_run_in`, with any error after the start turned into an error report."""
        try:
            return self._run_in(workspace, request, started)
        except OutputClosed:
            raise
        except Exception as exc:
            stop_reason, message = _failure_of(exc)
            detail = f"\n{traceback.format_exc()[-4000:]}" if stop_reason == "internal_error" else ""
            self.emit(Notice(level="error", message=message + detail))
            report = self._stopped(request, started, "error", stop_reason, message)
            self.failure = (exit_code_for(report), message)
            return report

    def _apply(self, request: FixRequest, report: RunReport) -> None:
        """`--apply`: the resolved change onto the user's working tree, all or nothing."""
        if not (request.apply and report.status == "resolved" and report.branch):
            return
        try:
            apply_branch(request.repo, report.branch)
        except WorkspaceError as exc:
            report.notices.append(f"not applied to your working tree: {exc}")
            self.emit(Notice(level="error", message=f"not applied to your working tree: {exc}"))
            self.failure = (EXIT_USAGE, str(exc))
            return
        report.applied = True

    def _stopped(
        self, request: FixRequest, started: float, status: Status, stop_reason: str, message: str
    ) -> RunReport:
        """The report of a run that an error or Ctrl-C stopped: no change is kept."""
        return RunReport(
            session_id=self.session_id,
            task=request.task,
            github_issue=request.github_issue,
            status=status,
            stop_reason=stop_reason,
            engine=self.engine.name,
            model=self.engine.model,
            sandbox=self.sandbox.mode,
            trajectory_path=str(self._trajectory.path) if self._trajectory else None,
            elapsed_seconds=round(time.monotonic() - started, 2),
            notices=[message],
        )

    def _run_in(self, workspace: Workspace, request: FixRequest, started: float) -> RunReport:
        self.emit(
            RunStarted(
                session_id=self.session_id,
                task=request.task,
                engine=self.engine.name,
                model=self.engine.model,
                branch=workspace.branch,
                worktree=str(workspace.path),
                sandbox=self.sandbox.mode,
                setup=self._setup_mode(),
            )
        )
        notice = self.config.untrusted_notice()
        if notice:  # the repository's own config had settings that wait for `agent trust`
            self.emit(Notice(level="warning", message=notice))
        self._prepare(workspace.path)
        budget = self._context_budget()
        setup = prepare_run(
            workspace.path,
            self.config,
            self.engine,
            self.emit,
            budget,
            self.sandboxes.servers,
            self.sandboxes.approver,
            tools=self.tools,
        )
        self.python_env = self._find_python(workspace.path, setup.test_command)
        try:
            state = self._loop_in(workspace, request, setup, budget)
        finally:
            setup.close()
        state.notices[:0] = setup.notices
        if self.speeds is not None:
            self.speeds.learn(self.engine, state.usage)
        return self._report(state, workspace, request, started, setup.test_command)

    def _loop_in(self, workspace: Workspace, request: FixRequest, setup: RunSetup, budget: int) -> LoopState:
        journal = EditJournal(journal_path(session_dir(request.repo), self.session_id))
        ctx = ToolContext(
            root=workspace.path,
            sandbox=StrayGuard(self.sandbox, workspace.git, self.sweep_notice),
            test_command=setup.test_command,
            command_timeout=self.config.loop.command_timeout,
            edits=journal,
            writable=self.config.sandbox.policy != "read-only",
            protect_tests=not self.config.loop.edit_tests,
            python=self.python_env.interpreter if self.python_env else None,
        )
        pack_budget = max(budget - setup.block.tokens, 0)
        context = start_context(
            workspace.path, request.task, pack_budget, self.engine, cache_dir(request.repo), self.emit
        )
        brief = repro_brief(workspace.path, request.task, cache_dir(request.repo))
        loop = self.new_loop(
            setup.toolset, ctx, JournaledWorktree(workspace, journal), self.emit, self.steering
        )
        try:
            state = loop.run(request.task, context, instructions=setup.block.text, brief=brief)
        except EngineError as exc:
            self.emit(Notice(level="error", message=str(exc)))
            self.failure = (EXIT_ENGINE, f"engine error: {exc}")
            state = (loop.state or LoopState(messages=[])).failed("engine_error", str(exc))
        except Exception as exc:  # a bug of ours: the run still ends with a report, the work is kept
            if isinstance(exc, UserError):
                raise  # the user's to fix: the run reports it (`_attempt`), the command line says how
            message = f"internal error, please report it: {type(exc).__name__}: {exc}"
            self.emit(Notice(level="error", message=f"{message}\n{traceback.format_exc()[-4000:]}"))
            self.failure = (EXIT_ENGINE, message)
            state = (loop.state or LoopState(messages=[])).failed("internal_error", message)
        self._final_verification(state, workspace, loop)
        return state

    def _context_budget(self) -> int:
        """The context window's budget; on "auto", no more than the time budget affords."""
        setting = self.config.context.budget
        budget = resolve_budget(setting, self.engine.context_length)
        if self.speeds is None or not (setting is None or setting == "auto"):
            return budget
        speed = self.speeds.speed(self.engine, lambda text: self.emit(Notice(level="info", message=text)))
        sized = time_sized(budget, speed, self.config.loop.max_minutes * 60)
        if sized.notice:
            self.emit(Notice(level="info", message=sized.notice))
        return sized.tokens

    def _setup_mode(self) -> str | None:
        command, mode = self.config.sandbox.setup_command, self.sandboxes.setup_mode
        return mode if command and mode else None

    def _prepare(self, root: Path) -> None:
        """The setup step: install the project's dependencies (internet through the egress proxy)
        before the sandboxed run."""
        command = self.config.sandbox.setup_command
        setup = self.sandboxes.setup
        if setup is None or not command:
            return
        result = run_setup(setup, command, root, self.config.sandbox.setup_timeout)
        status = f"exit code {result.exit_code}" + (", timed out" if result.timed_out else "")
        level: Literal["info", "warning"] = "info" if result.ok else "warning"
        tail = "" if result.ok else f"\n{result.output[-2000:]}"
        where = f"in {setup.mode}; the model's commands: {self.sandbox.mode}"
        message = f"setup `{command}`: {status} in {result.seconds:.1f}s ({where}){tail}"
        self.emit(Notice(level=level, message=message))

    def _find_python(self, root: Path, test_command: str | None) -> PythonEnv | None:
        """The interpreter the tests run with (agent/repo/python_env.py), each candidate tried in the
        sandbox; one line says which, or that none can run the tests and the fix. None: a test
        command was given, or there is no pytest suite."""
        if test_command or not has_pytest_suite(root):
            return None
        probe = self.sandboxes.probe or self.sandbox
        found = list(self.sandboxes.pythons) or candidates(root, setup_env=None)
        env = detect(found, sandbox_runner(probe, root, command_env_for(root)))
        problem = env.problem
        self.emit(
            InterpreterFound(
                interpreter=env.interpreter,
                source=env.source,
                pytest=env.pytest,
                problem=problem,
                tried=env.tried,
            )
        )
        self.emit(Notice(level="warning" if problem else "info", message=problem or env.summary()))
        return env

    @staticmethod
    def _final_verification(state: LoopState, workspace: Workspace, loop: AgentLoop) -> None:
        """Whatever the loop ended with, the report states the tests' result on the final tree."""
        if not workspace.changed_files():
            return
        if not state.tests_stand():
            loop.verify(state, "final_verify")
        confirm_regressions(state, loop)  # a regression must fail twice
        HeldBackCheck(loop.tools, loop.emit, held_back_of(state)).final()  # for the verdict

    def _report(
        self,
        state: LoopState,
        workspace: Workspace,
        request: FixRequest,
        started: float,
        test_command: str | None = None,
    ) -> RunReport:
        files = workspace.changed_files()
        diff = workspace.diff() if files else ""
        tests = _tests_summary(state.last_tests, test_command or "")
        commit = workspace.commit(_commit_message(request.task, state.summary)) if files else None
        patch = str(workspace.write_patch(self.session_id)) if files else None
        verdict = verdict_of(state, files, workspace.path, workspace.changes() if files else [])
        status: Status = "resolved" if verdict.status == "resolved" else "not_resolved"
        if state.stop_reason in ("engine_error", "internal_error"):
            status = "error"
        elif not files:
            status = "no_change"
        elif verdict.status == "unverified":
            status = "unverified"
        return RunReport(
            session_id=self.session_id,
            task=request.task,
            github_issue=request.github_issue,
            status=status,
            stop_reason=state.stop_reason,
            verdict=verdict.reason,
            evidence=verdict.evidence,
            reproduction=verdict.reproduction,
            special_cased=verdict.special_cased,
            summary=state.summary,
            plan=state.plan,
            engine=self.engine.name,
            model=self.engine.model,
            sandbox=self.sandbox.mode,
            branch=workspace.branch if commit else None,
            commit=commit,
            patch_path=patch,
            trajectory_path=str(self._trajectory.path) if self._trajectory else None,
            files_changed=files,
            diff=diff,
            tests=tests,
            steps=state.steps,
            attempts=state.attempt,
            repair=_repair_summary(state),
            tool_calls=state.tool_calls,
            model_errors=state.errors,
            usage=state.usage,
            elapsed_seconds=round(time.monotonic() - started, 2),
            notices=[*state.notices, *self._swept],
            test_env=self.python_env,
        )


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the worktree and branch are gone; `report` says so."""

    def __init__(self, report: RunReport) -> None:
        super().__init__("interrupted by the user")
        self.report = report


class RepositoryNotWritable(WorkspaceError):
    """The agent cannot write where it keeps its branch, worktree and session log."""


_ENVIRONMENT_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


def _failure_of(exc: Exception) -> tuple[str, str]:
    """(the report's stop_reason, a message) for an error that stopped a started run."""
    if isinstance(exc, UserError):  # isinstance: SandboxUnavailable is a registered one
        return "usage_error", str(exc)
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        return "usage_error", f"{exc.strerror}: {exc.filename or ''}".rstrip(": ")
    if isinstance(exc, EngineError):
        return "engine_error", f"engine error: {exc}"
    return "internal_error", f"internal error, please report it: {type(exc).__name__}: {exc}"


def check_writable(repo: git.Repo, apply: bool = False) -> None:
    """Fail early, saying so, when the agent cannot write its branch, worktree and session log (the
    git directory), or `--apply` cannot write the working tree. `os.access` sees read-only mounts
    and permissions alike (as root, only the former stop a write, and only they are reported)."""
    common = agent_dir(repo).parent
    places = [common / name for name in ("", "objects", "refs/heads", "worktrees")]
    places += [agent_dir(repo) / name for name in ("", "sessions", "worktrees", "patches", "cache")]
    for place in places:
        if place.exists() and not os.access(place, os.W_OK):
            raise RepositoryNotWritable(
                f"cannot write to {place} ({_why_not_writable(place)}): the agent keeps its branch, "
                "worktree and session log in the repository's git directory. Make it writable, or run "
                f"the agent in a writable clone (git clone {repo.working_tree_dir} /tmp/agent-copy)"
            )
    tree = Path(repo.working_tree_dir or ".")
    if apply and not os.access(tree, os.W_OK):
        raise RepositoryNotWritable(
            f"--apply writes the change to your working tree, but cannot write to {tree} "
            f"({_why_not_writable(tree)}). Run without --apply: the change stays on its branch, "
            "for `agent apply BRANCH` where the tree is writable"
        )


def _why_not_writable(path: Path) -> str:
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "a read-only file system" if read_only else "permission denied"


def _commit_message(task: str, summary: str) -> str:
    """The agent's commit message; text git can store (no lone surrogate, no NUL from a model)."""
    text = f"agent: {task.splitlines()[0][:60] if task else ''}\n\n{summary}"
    return str(no_surrogates(text)).replace("\0", "")


def _repair_summary(state: LoopState) -> RepairSummary | None:
    repair = state.repair
    if repair is None:
        return None
    return RepairSummary(
        replies=repair.replies, drafts=len(repair.drafts) + repair.resolved, resolved=repair.resolved
    )
