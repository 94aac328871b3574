"""One result file per finished task, and the SWE-bench predictions file built from them.

`OUT/results/<id>.json` is written atomically (a temporary file renamed into place) once a task is
over, so a killed batch leaves only whole results: they are what "finished" means on resume.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

Status = Literal["resolved", "not_resolved", "no_change", "error", "interrupted", "timeout", "setup_error"]


class TaskResult(BaseModel):
    id: str
    status: Status
    resolved: bool | None = None  # `agent eval` only: what the task's own tests say
    failed_tests: list[str] = []
    error: str = ""
    exit_code: int | None = None
    engine: str = ""
    model: str = ""
    branch: str | None = None
    patch: str = ""
    steps: int = 0
    tool_calls: int = 0
    seconds: float = 0.0
    report: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether a resumed batch skips this task (setup errors are worth another try)."""
        return self.status not in ("setup_error", "interrupted")


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


class ResultStore:
    """`results/<id>.json` and `predictions.jsonl` under the batch's output folder (thread-safe)."""

    def __init__(self, out: Path, model_name: str | None = None) -> None:
        self.out = out
        self.dir = out / "results"
        self.model_name = model_name
        self._lock = threading.Lock()

    def path(self, task_id: str) -> Path:
        return self.dir / f"{task_id}.json"

    def load(self) -> dict[str, TaskResult]:
        results: dict[str, TaskResult] = {}
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                result = TaskResult.model_validate_json(path.read_text(encoding="utf-8"))
            except (OSError, ValidationError):
                continue  # unreadable: the task runs again
            results[result.id] = result
        return results

    def save(self, result: TaskResult, order: Iterable[str]) -> None:
        with self._lock:
            atomic_write(self.path(result.id), result.model_dump_json(indent=1))
            self._write_predictions(order)

    def _write_predictions(self, order: Iterable[str]) -> None:
        results = self.load()
        rows = [self.prediction(results[i]) for i in order if i in results and results[i].finished]
        atomic_write(self.out / "predictions.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    def prediction(self, result: TaskResult) -> dict[str, str]:
        """One row in SWE-bench's format."""
        return {
            "instance_id": result.id,
            "model_name_or_path": self.model_name or result.model or "unknown",
            "model_patch": result.patch,
        }
