"""The repository context a run starts from: the pack of the code most related to the task
(agent/context), its tokens counted by the engine. The index build's parsing reaches the user as
live `IndexProgress` events, a few a second: on a large repository the first build takes a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.context import build_pack
from agent.engines.base import Engine
from agent.events import IndexProgress, Notice, RunEvent
from agent.messages import Message

INDEX_EVENT_SECONDS = 0.25  # at most one `IndexProgress` this often (the last one always)


class IndexEvents:
    """A `Progress` (agent/progress.py) that emits `IndexProgress`: the first report, then at most
    one every `interval` seconds, and the last (`done == total`) always."""

    def __init__(
        self,
        emit: Callable[[RunEvent], None],
        interval: float = INDEX_EVENT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.emit = emit
        self.interval = interval
        self.clock = clock
        self._last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if done < total and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        self.emit(IndexProgress(done=done, total=total))


def count_text(engine: Engine) -> Callable[[str], int]:
    return lambda text: engine.count_tokens([Message.user(text)], [])


def start_context(
    root: Path, task: str, budget: int, engine: Engine, cache: Path, emit: Callable[[RunEvent], None]
) -> str:
    """The context for the first prompt, parses cached in `cache`; a notice says what went in."""
    pack = build_pack(root, task, budget, count_text(engine), cache_dir=cache, progress=IndexEvents(emit))
    emit(Notice(level="info", message=pack.manifest.summary()))
    return pack.text
