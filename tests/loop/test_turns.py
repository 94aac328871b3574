"""The model's turns steered from another thread (agent/loop/turns.py, agent/steering.py):
guidance, interrupt, stop."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import git

from agent.build import fix_run
from agent.cli.console import ConsolePrinter
from agent.config import AgentConfig
from agent.engines.paced import PacedEngine, pieces
from agent.engines.scripted import ScriptedTurn
from agent.events import Interrupted, ModelDelta, RunEvent, UserGuidance
from agent.run.fix import FixRequest
from agent.steering import Steering
from tests.recording import RecordingEngine
from tests.repos import median_repo
from tests.sandboxes import sandboxes
from tests.scripts import scripted

LONG = "Reading the code first " + " ".join(f"w{i}" for i in range(200))


def median_turns(first: str | None = None) -> list[ScriptedTurn]:
    turns = scripted()._turns
    return [ScriptedTurn(text=first), *turns[1:]] if first else turns


def test_guidance_is_handed_to_the_model_before_the_next_step(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    engine = RecordingEngine(scripted())
    steering = Steering()
    steering.guide("keep the docstring")
    events: list[RunEvent] = []
    run = fix_run(engine, sandboxes(repo), AgentConfig(max_steps=12), events.append, steering)
    report = run.run(FixRequest(task="median is wrong", repo=git.Repo(repo)))
    assert report.status == "resolved"
    assert [e.text for e in events if isinstance(e, UserGuidance)] == ["keep the docstring"]
    printed = io.StringIO()
    printer = ConsolePrinter(out=printed, replay=True)
    for event in events:
        printer(event)
    assert "you: keep the docstring" in printed.getvalue()  # `agent sessions ID` shows it too
    plan_request, first_step = engine.conversations[0], engine.conversations[1]
    assert not any("keep the docstring" in m.content for m in plan_request)
    assert "keep the docstring" in first_step[-1].content and first_step[-1].role == "user"


def test_interrupt_cuts_the_turn_at_the_next_token_and_guidance_resumes(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    engine = RecordingEngine(PacedEngine(scripted(median_turns(LONG)), tokens_per_second=200))
    steering = Steering()
    events: list[RunEvent] = []
    interrupted_after: list[int] = []

    def emit(event: RunEvent) -> None:
        events.append(event)
        deltas = sum(isinstance(e, ModelDelta) for e in events)
        if isinstance(event, ModelDelta) and deltas == 5:
            steering.interrupt()
            interrupted_after.append(deltas)
        if isinstance(event, Interrupted):
            steering.guide("go on, read stats.py")

    run = fix_run(engine, sandboxes(repo), AgentConfig(max_steps=12), emit, steering)
    report = run.run(FixRequest(task="median is wrong", repo=git.Repo(repo)))

    deltas_in_plan = sum(isinstance(e, ModelDelta) for e in events[: _index(events, Interrupted)])
    assert interrupted_after == [5] and deltas_in_plan == 5  # not one more token after the interrupt
    pause = next(e for e in events if isinstance(e, Interrupted))
    assert pause.partial_text == "".join(pieces(LONG)[:5]).strip()
    assert report.status == "resolved" and report.stop_reason == "finished"
    assert any("go on, read stats.py" in m.content for m in engine.conversations[1])


def test_stop_while_paused_ends_the_run_with_a_report(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    engine = PacedEngine(scripted(median_turns(LONG)), tokens_per_second=200)
    steering = Steering()
    events: list[RunEvent] = []

    def emit(event: RunEvent) -> None:
        events.append(event)
        if isinstance(event, ModelDelta):
            steering.interrupt()
        if isinstance(event, Interrupted):
            threading.Timer(0.05, steering.stop).start()

    run = fix_run(engine, sandboxes(repo), AgentConfig(max_steps=12), emit, steering)
    report = run.run(FixRequest(task="median is wrong", repo=git.Repo(repo)))
    assert report.stop_reason == "interrupted" and report.status == "no_change"
    assert report.trajectory_path and Path(report.trajectory_path).is_file()


def _index(events: list[RunEvent], kind: type) -> int:
    return next(i for i, e in enumerate(events) if isinstance(e, kind))
