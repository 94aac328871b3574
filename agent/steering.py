"""Steering a running loop from another thread: guidance to read, an interrupt, a stop.

The UI thread calls `guide`, `interrupt` and `stop`; the loop's thread reads guidance between steps
(`drain`), checks `interrupted` between streamed tokens so a turn ends promptly, and blocks in
`wait_for_guidance` while paused. Headless runs pass no `Steering` at all.
"""

from __future__ import annotations

import queue
import threading

POLL_SECONDS = 0.1


class Steering:
    """Thread-safe: an inbox of user guidance, an interrupt flag and a stop flag."""

    def __init__(self) -> None:
        self._inbox: queue.Queue[str] = queue.Queue()
        self._interrupt = threading.Event()
        self._stop = threading.Event()

    # ---- the user's side --------------------------------------------------------------------

    def guide(self, text: str) -> None:
        """Queue guidance; the loop reads it before its next step (or resumes with it when paused)."""
        self._inbox.put(text)

    def interrupt(self) -> None:
        """End the current model turn as soon as possible and pause for guidance."""
        self._interrupt.set()

    def stop(self) -> None:
        """End the run: a paused loop stops, a streaming turn is cut short first."""
        self._stop.set()
        self._interrupt.set()

    # ---- the loop's side --------------------------------------------------------------------

    @property
    def interrupted(self) -> bool:
        return self._interrupt.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def drain(self) -> list[str]:
        """All guidance queued so far, oldest first."""
        items: list[str] = []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def wait_for_guidance(self) -> str | None:
        """Block until the user sends guidance ("" resumes without any); None when they stopped."""
        while not self._stop.is_set():
            try:
                text = self._inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            self._interrupt.clear()
            return text
        return None
