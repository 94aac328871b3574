"""Human-readable live output of run events (stderr), for the CLI without the TUI."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TextIO

from agent.events import (
    Interrupted,
    ModelDelta,
    ModelError,
    ModelText,
    Notice,
    PlanSet,
    RunEvent,
    RunStarted,
    StepStarted,
    ToolFinished,
    ToolStarted,
    TurnUsage,
    UserGuidance,
)


def _short(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConsoleOut:
    """The console stream shared by the printer and the heartbeat's thread: whole writes under one
    lock, knowing whether a line is open and when the last one ended."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.mid_line = False
        self.last_line_at = time.monotonic()
        self.lock = threading.Lock()

    def text(self, text: str) -> None:
        """Streamed text, which may leave a line open."""
        if not text:
            return
        with self.lock:
            self._write(text)
            self.mid_line = not text.endswith("\n")
            if "\n" in text:
                self.last_line_at = time.monotonic()

    def line(self, line: str) -> None:
        """A line of its own (an open line is ended first)."""
        with self.lock:
            self._write(("\n" if self.mid_line else "") + line + "\n")
            self.mid_line = False
            self.last_line_at = time.monotonic()

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class ConsolePrinter:
    """Streams model text as it arrives and prints one line per tool call and result."""

    def __init__(self, out: TextIO = sys.stderr, verbose: bool = False, replay: bool = False) -> None:
        self.console = ConsoleOut(out)
        self.verbose = verbose
        self.replay = replay  # a saved session has no streamed deltas: print whole model texts

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, ModelDelta):
            if not event.thinking or self.verbose:
                self.console.text(event.text)
            return
        line = self._line(event)
        if line is not None:
            self.console.line(line)

    def _line(self, event: RunEvent) -> str | None:
        if isinstance(event, RunStarted):
            setup = f"; setup: {event.setup}" if event.setup else ""
            return (
                f"agent: {event.engine} / {event.model}, sandbox {event.sandbox}{setup}, "
                f"working on branch {event.branch}"
            )
        if isinstance(event, PlanSet):
            return "plan:\n" + "\n".join(f"  {i}. {s}" for i, s in enumerate(event.steps, 1))
        if isinstance(event, StepStarted):
            return f"-- step {event.step}"
        if isinstance(event, ToolStarted):
            args = event.call.raw_arguments or json.dumps(event.call.arguments, ensure_ascii=False)
            return f"> {event.call.name} {_short(args, 160)}"
        if isinstance(event, ToolFinished):
            status = "ok" if event.ok else "error"
            lines = event.output.splitlines() or [""]
            shown = lines[: 12 if self.verbose else 1]
            more = f"\n    ... {len(lines) - len(shown)} more lines" if len(lines) > len(shown) else ""
            body = "\n    ".join(_short(line, 160) for line in shown)
            return f"  [{status} {event.seconds:.1f}s] {body}{more}"
        if isinstance(event, ModelText) and self.replay:
            return event.text
        if isinstance(event, ModelError):
            return f"  ! model error ({event.category}): {_short(event.message, 160)}"
        if isinstance(event, Notice):
            return f"{event.level}: {event.message}"
        if isinstance(event, Interrupted):
            return "-- interrupted by the user"
        if isinstance(event, UserGuidance):
            return f"you: {event.text}"
        if isinstance(event, TurnUsage) and self.verbose:
            u = event.usage
            return (
                f"  tokens: prompt {u.prompt_tokens} (prefilled {u.prefilled_tokens}, cached "
                f"{u.cached_tokens}), generated {u.generated_tokens}, {u.decode_tokens_per_second:.1f} tok/s"
            )
        return None
