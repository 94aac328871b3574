"""The live progress of a batch on stderr: one redrawn line on a terminal, a line per task otherwise."""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from agent.batch.results import TaskResult
from agent.events import RunEvent, StepStarted, ToolStarted

BAR_WIDTH = 20


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    def __init__(self, out: TextIO, total: int, skipped: int, live: bool) -> None:
        self.out = out
        self.total = total
        self.done = skipped
        self.resolved = 0
        self.failed = 0
        self.live = live
        self._running: dict[str, str] = {}  # task id -> what it is doing
        self._started = time.monotonic()
        self._lock = threading.Lock()  # the counters
        self._write_lock = threading.Lock()  # the terminal

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

    def line(self) -> str:
        with self._lock:
            filled = BAR_WIDTH * self.done // max(1, self.total)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            running = ", ".join(f"{tid} ({what})" for tid, what in self._running.items())
            text = (
                f"[{bar}] {self.done}/{self.total} resolved {self.resolved} errors {self.failed} "
                f"{_clock(time.monotonic() - self._started)}" + (f" | {running}" if running else "")
            )
        width = shutil.get_terminal_size((120, 20)).columns - 1
        return text if len(text) <= width else text[: width - 3] + "..."

    def redraw(self) -> None:
        if self.live:
            self._write("\r\x1b[K" + self.line())

    def _print(self, text: str) -> None:
        prefix = "\r\x1b[K" if self.live else ""
        self._write(prefix + text + "\n" + (self.line() if self.live else ""))

    def close(self) -> None:
        self._write(("\r\x1b[K" if self.live else "") + self.line() + "\n")

    def _write(self, text: str) -> None:
        with self._write_lock:
            self.out.write(text)
            self.out.flush()
