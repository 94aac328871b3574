"""The sandbox boundary: every command the agent runs goes through a `Sandbox`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel


class CommandResult(BaseModel):
    """A finished command. A failing command is data, not an exception."""

    command: str
    exit_code: int
    output: str  # stdout and stderr interleaved, capped (head and tail kept)
    timed_out: bool = False
    truncated_chars: int = 0
    seconds: float = 0.0
    # which limits stopped it: "timeout", "cpu", "file_size", "memory", "processes", "output"
    limits_hit: list[str] = []

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Sandbox(Protocol):
    @property
    def mode(self) -> str: ...  # "subprocess", "bubblewrap", ... shown in every report

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult: ...
