"""Byte progress for long installs: a bar on a terminal, a few lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


class StderrProgress:
    """Redraws at most ~10 times a second on a TTY; prints every 10% when not a TTY."""

    def __init__(self, label: str, out: TextIO = sys.stderr) -> None:
        self.label = label
        self.out = out
        self._last = 0.0
        self._last_decile = -1
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        now = time.monotonic()
        rate = done / max(now - self._started, 1e-6) / 1e6
        line = f"{self.label}: {fraction:6.1%} of {total / 1e9:.2f} GB ({rate:.0f} MB/s)"
        if self.out.isatty():
            if now - self._last >= 0.1 or done >= total:
                self._last = now
                self.out.write("\r" + line + ("\n" if done >= total else ""))
                self.out.flush()
            return
        decile = int(fraction * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            print(line, file=self.out, flush=True)


def no_progress(done: int, total: int) -> None:
    return None
