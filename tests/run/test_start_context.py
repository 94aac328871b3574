"""A run's index build reaches the user live (issue #32): `IndexProgress` events, a few a second
and the last always, before the first step; never in the session file."""

from __future__ import annotations

from pathlib import Path

from agent.events import IndexProgress, RunEvent, StepStarted
from agent.run.start_context import IndexEvents
from tests.repos import median_repo
from tests.scripts import run_fix, scripted


def test_index_events_are_throttled_but_keep_the_first_and_the_last() -> None:
    events: list[RunEvent] = []
    now = [0.0]
    progress = IndexEvents(events.append, interval=0.25, clock=lambda: now[0])
    for done, at in ((0, 0.0), (10, 0.1), (20, 0.2), (30, 0.3), (40, 0.4), (50, 0.6), (100, 0.61)):
        now[0] = at
        progress(done, 100)
    assert [(e.done, e.total) for e in events if isinstance(e, IndexProgress)] == [
        (0, 100),
        (30, 100),
        (50, 100),
        (100, 100),
    ]


def test_a_run_shows_its_index_build_live_and_never_records_it(tmp_path: Path) -> None:
    report, events = run_fix(median_repo(tmp_path / "r"), scripted())
    assert report.status == "resolved"
    indexing = [e for e in events if isinstance(e, IndexProgress)]
    assert indexing and indexing[0].done == 0 and indexing[-1].done == indexing[-1].total > 0
    first_step = next(i for i, e in enumerate(events) if isinstance(e, StepStarted))
    assert all(i < first_step for i, e in enumerate(events) if isinstance(e, IndexProgress))
    assert report.trajectory_path and "index_progress" not in Path(report.trajectory_path).read_text()
