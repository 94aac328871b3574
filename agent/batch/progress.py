"""The live progress of a batch on stderr (drawn by agent/progress.py): a rich bar with the time
left on a terminal, the tasks running beside it; a line per finished task either way."""

from __future__ import annotations

import threading
from typing import TextIO

from agent.batch.results import TaskResult
from agent.events import RunEvent, StepStarted, ToolStarted
from agent.progress import Bar


class Progress:
    def __init__(self, out: TextIO, total: int, skipped: int, live: bool) -> None:
        self.total = total
        self.done = skipped
        self.resolved = 0
        self.failed = 0
        self.live = live
        self._running: dict[str, str] = {}  # task id -> what it is doing
        self._lock = threading.Lock()  # the counters
        self._write_lock = threading.Lock()  # the terminal
        self._bar = Bar("tasks", out, interval=None, live=live)

    def started(self, task_id: str) -> None:
        with self._lock:
            self._running[task_id] = "setting up"
        self.redraw()

    def event(self, task_id: str, event: RunEvent) -> None:
        with self._lock:
            if task_id not in self._running:
                return
            if isinstance(event, StepStarted):
                self._running[task_id] = f"step {event.step}"
            elif isinstance(event, ToolStarted):
                self._running[task_id] = f"{self._step(task_id)} {event.call.name}".strip()
        self.redraw()

    def _step(self, task_id: str) -> str:
        words = self._running.get(task_id, "").split(" ")
        return " ".join(words[:2]) if words[:1] == ["step"] else ""

    def phase(self, task_id: str, what: str) -> None:
        with self._lock:
            if task_id in self._running:
                self._running[task_id] = what
        self.redraw()

    def finished(self, result: TaskResult) -> None:
        with self._lock:
            self._running.pop(result.id, None)
            self.done += 1
            good = result.resolved if result.resolved is not None else result.status == "resolved"
            self.resolved += bool(good)
            self.failed += result.status in ("error", "setup_error", "timeout")
        if result.resolved is not None:
            verdict = "resolved" if result.resolved else "not resolved"
        else:
            verdict = result.status.replace("_", " ")
        detail = f": {result.error.splitlines()[0][:120]}" if result.error else ""
        self._print(f"[{self.done}/{self.total}] {result.id}: {verdict} ({result.seconds:.0f}s){detail}")

    def status(self) -> str:
        with self._lock:
            running = ", ".join(f"{tid} ({what})" for tid, what in self._running.items())
            return f"resolved {self.resolved} errors {self.failed}" + (f" | {running}" if running else "")

    def redraw(self) -> None:
        if self.live:
            with self._write_lock:
                self._bar.update(self.done, self.total, self.status())

    def _print(self, text: str) -> None:
        with self._write_lock:
            self._bar.print(text)
            if self.live:
                self._bar.update(self.done, self.total, self.status())

    def close(self) -> None:
        with self._write_lock:
            self._bar.update(self.done, self.total, self.status())
            self._bar.close()
