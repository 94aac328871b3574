"""Session trajectories: every run event appended as one JSON line under `<git-dir>/.agent/sessions`."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from agent.events import RUN_EVENT_ADAPTER, RunEvent, live_only


def new_session_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class Trajectory:
    """Appends events to `<dir>/<session_id>.jsonl`, flushed line by line (a crash loses nothing)."""

    def __init__(self, directory: Path, session_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{session_id}.jsonl"
        self._file: IO[bytes] = self.path.open("ab")

    def write(self, event: RunEvent) -> None:
        if live_only(event):
            return
        self._file.write(RUN_EVENT_ADAPTER.dump_json(event) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_trajectory(path: Path) -> Iterator[RunEvent]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield RUN_EVENT_ADAPTER.validate_json(line)


def list_sessions(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl"), reverse=True) if directory.is_dir() else []
