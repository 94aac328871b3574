"""Between the run's thread and the UI thread: messages up, steering and approvals down.

The engine and the loop run in a Textual thread worker. Every `RunEvent` is posted to the app as
a `RunEventMessage` (`post_message` is thread-safe); an approval blocks the worker until the user
answers the modal, never the UI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import git
from textual.message import Message

from agent.config import AgentConfig
from agent.engines.base import Engine
from agent.events import RunEvent
from agent.run.report import RunReport
from agent.run.sandboxes import RunSandboxes
from agent.steering import Steering
from sandbox.approval import ApprovalRequest, Approver, Decision

Say = Callable[[str], None]
EngineFactory = Callable[[Say], Engine]
SandboxFactory = Callable[[Approver], RunSandboxes]  # agent/build.py `run_sandboxes`

APPROVAL_POLL_SECONDS = 0.1


@dataclass
class TuiSetup:
    """What the app needs: the repository, settings, and how to build the engine and the run's
    sandboxes (given the approver that shows the approval modal)."""

    repo: git.Repo
    config: AgentConfig
    build_engine: EngineFactory
    build_sandboxes: SandboxFactory
    task: str | None = None  # start this task at once (`agent fix "..." --tui`)
    resume: Path | None = None  # replay this session's trajectory
    pick_session: bool = False  # `--resume` without an id: let the user choose
    clock: Callable[[], float] = field(default=time.monotonic)


class RunEventMessage(Message):
    """One event of the run, posted from the worker thread."""

    def __init__(self, event: RunEvent, sent_at: float) -> None:
        super().__init__()
        self.event = event
        self.sent_at = sent_at  # time.perf_counter() when emitted: the benchmark's latency origin


class RunEnded(Message):
    """The run's thread is done: a report, or the error that ended it."""

    def __init__(self, report: RunReport | None, error: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.error = error


class EngineReady(Message):
    def __init__(self, engine: Engine | None, error: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.error = error


class Progress(Message):
    """A line of progress from a long operation (model load...)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ApprovalNeeded(Message):
    """The sandbox asks: `answer` must be called (from the UI thread) with the user's decision."""

    def __init__(self, request: ApprovalRequest, answer: Callable[[Decision], None]) -> None:
        super().__init__()
        self.request = request
        self.answer = answer


class TuiApprover:
    """An `Approver` for the sandbox: posts the request to the app and waits for the decision.

    Called on the worker thread. A stopped run (or a closing app) denies whatever is pending.
    """

    def __init__(self, post: Callable[[Message], object], steering: Callable[[], Steering | None]) -> None:
        self._post = post
        self._steering = steering

    def __call__(self, request: ApprovalRequest) -> Decision:
        answered = threading.Event()
        decision: list[Decision] = []

        def answer(value: Decision) -> None:
            decision.append(value)
            answered.set()

        self._post(ApprovalNeeded(request, answer))
        while not answered.wait(APPROVAL_POLL_SECONDS):
            steering = self._steering()
            if steering is not None and steering.stopped:
                return "deny"
        return decision[0]
