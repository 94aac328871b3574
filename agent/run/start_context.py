"""The repository context a run starts from: the pack of the code most related to the task
(agent/context), its tokens counted by the engine; and once the tests have shown failures about
the task, the same pack made again for them (`StartContext.focus`). The index build's parsing
reaches the user as live `IndexProgress` events, a few a second: on a large repository the first
build takes a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.context import build_pack
from agent.context.manifest import ContextPack
from agent.engines.base import Engine
from agent.events import IndexProgress, Notice, RunEvent
from agent.loop.focus import Focus
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


def build_context(
    root: Path,
    task: str,
    budget: int,
    engine: Engine,
    cache: Path,
    emit: Callable[[RunEvent], None],
    purpose: str = "",
) -> ContextPack:
    """The context for the first prompt, parses cached in `cache`; a notice says what went in
    (and `purpose`: what it was packed again for)."""
    progress = None if purpose else IndexEvents(emit)  # packed again: the index is built by then
    pack = build_pack(root, task, budget, count_text(engine), cache_dir=cache, progress=progress)
    summary = pack.manifest.summary()
    emit(Notice(level="info", message=f"{summary} ({purpose})" if purpose else summary))
    return pack


class StartContext:
    """The run's repository context: the pack for the task, and the same pack made again for the
    task and the failures the tests show before any change (agent/loop/focus.py), whose frames
    rank the code they run through first; not when the first pack holds the whole repository."""

    def __init__(
        self,
        root: Path,
        task: str,
        budget: int,
        engine: Engine,
        cache: Path,
        emit: Callable[[RunEvent], None],
    ) -> None:
        self.root, self.task, self.budget = root, task, budget
        self.engine, self.cache, self.emit = engine, cache, emit
        self.whole = False

    def first(self) -> str:
        pack = build_context(self.root, self.task, self.budget, self.engine, self.cache, self.emit)
        self.whole = pack.manifest.whole()
        return pack.text

    def focus(self) -> Focus | None:
        return None if self.whole else self._again

    def _again(self, failures: str) -> str:
        query = f"{self.task}\n\n{failures}"
        why = "packed again for the failing tests"
        return build_context(self.root, query, self.budget, self.engine, self.cache, self.emit, why).text
