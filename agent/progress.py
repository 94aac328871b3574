"""Progress of long work on stderr (a model pull, an index build, a batch): the one place it is drawn.

On a terminal it is a `rich.progress` bar with the rate and the time left, redrawn in place. On
anything else (a CI log, `| tee`, a file) it is a plain line at most every `interval` seconds and
one at the end: no carriage returns, no escape codes. The work reports `(done, total)` through the
`Progress` callable and never knows which of the two it feeds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Literal, Protocol, TextIO

PLAIN_SECONDS = 5.0  # a plain line at most this often

Unit = Literal["bytes", "items"]


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


def no_progress(done: int, total: int) -> None:
    return None


def _size(count: float, unit: Unit) -> str:
    if unit == "items":
        return f"{count:.0f}"
    for scale, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if count >= scale:
            return f"{count / scale:.2f} {name}"
    return f"{count:.0f} B"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plain_line(label: str, done: int, total: int, seconds: float, unit: Unit, status: str = "") -> str:
    """`downloading m: 42.0% (1.05 GB of 2.50 GB, 35.00 MB/s, 0:41 left)`."""
    rate = done / seconds if seconds > 0 else 0.0
    left = f", {_clock((total - done) / rate)} left" if rate > 0 and total > done else ""
    share = f"{done / total:.1%} " if total else ""
    counts = f"{_size(done, unit)} of {_size(total, unit)}" if total else _size(done, unit)
    speed = f", {_size(rate, unit)}/s" if unit == "bytes" else ""
    return f"{label}: {share}({counts}{speed}{left}, {_clock(seconds)})" + (f" {status}" if status else "")


class Bar:
    """One piece of work's progress. `live`: a redrawn rich bar (default: when `out` is a
    terminal). `interval`: the plain lines' spacing (None: no plain lines but the last)."""

    def __init__(
        self,
        label: str,
        out: TextIO = sys.stderr,
        unit: Unit = "items",
        interval: float | None = PLAIN_SECONDS,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.out = out
        self.unit = unit
        self.interval = interval
        self.live = _is_terminal(out) if live is None else live
        self.clock = clock
        self.started = clock()
        self._last_line: float | None = None
        self._state = (0, 0, "")
        self._rich: _RichBar | None = None
        self.closed = False

    def __call__(self, done: int, total: int) -> None:
        """The `Progress` callable: the bar ends when `done` reaches `total`."""
        if not (total and done >= total):
            self.update(done, total)
            return
        if self.live and not self.closed:
            self._rich = self._rich or _RichBar(self.label, self.out, self.unit)
            self._rich.update(done, total, "")
        self._state = (done, total, "")
        self.close()

    def update(self, done: int, total: int, status: str = "") -> None:
        if self.closed:
            return
        self._state = (done, total, status)
        if self.live:
            self._rich = self._rich or _RichBar(self.label, self.out, self.unit)
            self._rich.update(done, total, status)
            return
        now = self.clock()
        if self.interval is not None and (self._last_line is None or now - self._last_line >= self.interval):
            self._plain(now)

    def print(self, line: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if self._rich is not None:
            self._rich.print(line)
        else:
            self.out.write(line + "\n")
            self.out.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._rich is not None:
            self._rich.stop()
        elif not self.live:
            self._plain(self.clock())

    def _plain(self, now: float) -> None:
        self._last_line = now
        done, total, status = self._state
        self.print(plain_line(self.label, done, total, now - self.started, self.unit, status))


class LazyBar:
    """A `Bar` for work that is often quick or has nothing to do (an index build that is mostly
    cached): drawn only once work is left (`done < total`) `after` seconds after the first report,
    so quick work prints nothing at all. `out`: stderr as it is then, by default."""

    def __init__(
        self,
        label: str,
        unit: Unit = "items",
        out: TextIO | None = None,
        after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.out = out
        self.after = after
        self.clock = clock
        self.first: float | None = None
        self.bar: Bar | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            now = self.clock()
            self.first = now if self.first is None else self.first
            if done >= total or now - self.first < self.after:
                return
            self.bar = Bar(self.label, out=self.out or sys.stderr, unit=self.unit, clock=self.clock)
            self.bar.started = self.first  # the rate and the time spent count from the work's start
        self.bar(done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except ValueError:  # a closed stream
        return False


class _RichBar:
    """A `rich.progress` bar with the rate and the time left (imported only on a terminal)."""

    def __init__(self, label: str, out: TextIO, unit: Unit) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        counts = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
        self.progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            *counts,
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(file=out),
        )
        self.task = self.progress.add_task(label, total=None, status="")
        self.progress.start()

    def update(self, done: int, total: int, status: str) -> None:
        self.progress.update(self.task, completed=done, total=total or None, status=status)

    def print(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()
