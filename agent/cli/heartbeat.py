"""The console's heartbeat: while a run works, a line every few seconds saying what it is doing.

A turn of a small model on a slow CPU takes minutes, most of it in a prefill or in reasoning the
console does not show; a CI log (or `| tee`) would be silent all that time. When no line has been
written for `interval` seconds, the heartbeat writes one: the run's clock, the phase (indexing,
prefill, decode, tests, a tool), bytes or tokens so far, tokens per second and how long the phase
has lasted. It is a plain line each time, on a terminal too: no carriage-return redraws in logs.
It learns what the run does from the run's own events (`IndexProgress` from the index build,
`PrefillProgress` from the engine, streamed deltas, tools); the engine knows nothing of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agent.cli.console import ConsoleOut
from agent.events import (
    IndexProgress,
    ModelDelta,
    ModelText,
    PrefillProgress,
    RunEvent,
    RunFinished,
    RunStarted,
    StepStarted,
    ToolFinished,
    ToolStarted,
)

HEARTBEAT_SECONDS = 5.0
TEST_TOOLS = ("run_tests",)


@dataclass
class Phase:
    name: str  # "indexing", "prefill", "decode", "tests", "tool NAME", "working"
    started: float
    tokens: int = 0  # of indexing: bytes parsed
    total: int = 0  # of a prefill: the tokens it has to evaluate (0: not known yet); of indexing: bytes


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(phase: Phase, now: float, run_started: float) -> str:
    """`[0:42] prefill 1024/3000 tokens, 210.5 tok/s, 12s`; `[0:03] indexing 52000/180000 bytes, 2s`."""
    seconds = max(now - phase.started, 0.0)
    parts = [f"[{_clock(now - run_started)}] {phase.name}"]
    if phase.name == "indexing":
        parts.append(f" {phase.tokens}/{phase.total} bytes,")
    if phase.name in ("prefill", "decode"):
        count = f"{phase.tokens}/{phase.total}" if phase.total else str(phase.tokens)
        rate = phase.tokens / seconds if seconds > 0 else 0.0
        parts.append(f" {count} tokens, {rate:.1f} tok/s,")
    parts.append(f" {seconds:.0f}s")
    return "".join(parts)


class Heartbeat:
    """Follows the run's events; `running()` writes a line to `console` whenever it has been
    quiet for `interval` seconds while the run works."""

    def __init__(
        self,
        console: ConsoleOut,
        interval: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.interval = interval
        self.clock = clock
        self.run_started = clock()
        self.phase: Phase | None = None
        self._lock = threading.Lock()

    def __call__(self, event: RunEvent) -> None:
        now = self.clock()
        with self._lock:
            self.phase = self._next(event, now)

    def _next(self, event: RunEvent, now: float) -> Phase | None:
        phase = self.phase
        if isinstance(event, RunStarted):
            self.run_started = now
            return Phase("working", now)
        if isinstance(event, RunFinished):
            return None
        if phase is None:
            return None  # not started yet, or over
        if isinstance(event, StepStarted):
            return Phase("prefill", now)
        if isinstance(event, IndexProgress):
            if event.done >= event.total:
                return Phase("working", now)
            start = phase.started if phase.name == "indexing" else now
            return Phase("indexing", start, tokens=event.done, total=event.total)
        if isinstance(event, PrefillProgress):
            start = phase.started if phase.name == "prefill" else now
            return Phase("prefill", start, tokens=event.done, total=event.total)
        if isinstance(event, ModelDelta):
            current = phase if phase.name == "decode" else Phase("decode", now)
            current.tokens += 1
            return current
        if isinstance(event, ToolStarted):
            name = "tests" if event.call.name in TEST_TOOLS else f"tool {event.call.name}"
            return Phase(name, now)
        if isinstance(event, ModelText | ToolFinished):
            return Phase("working", now)
        return phase

    def line(self) -> str | None:
        with self._lock:
            phase = self.phase
            return describe(phase, self.clock(), self.run_started) if phase is not None else None

    def tick(self) -> None:
        """Write the line if the console has been quiet for `interval` seconds."""
        if time.monotonic() - self.console.last_line_at < self.interval:
            return
        line = self.line()
        if line is not None:
            self.console.line(f"  .. {line}")

    @contextmanager
    def running(self) -> Iterator[None]:
        stop = threading.Event()
        poll = min(1.0, self.interval / 5)

        def beat() -> None:
            while not stop.wait(poll):
                self.tick()

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
