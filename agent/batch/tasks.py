"""Task files: what `agent batch` and `agent eval` accept, and where each task's repository comes from.

Accepted inputs:
- a JSON-lines file of tasks with a `repo` field: a git repository (a path, relative to the file),
  cloned for the task, optionally at `base_commit`;
- a task set folder holding `materialize.py` and `tasks.jsonl` (like `shared/eval`), or the
  `tasks.jsonl` file itself: `materialize.py ID DEST` builds a task, `--eval` scores it;
- a task set folder holding `materialize.py` and one `ID/task.json` per task (like `shared/minibugs`).
Field names follow those sets, with SWE-bench's `instance_id` and `problem_statement` accepted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from agent.batch.sources import MiniBugsSet, RepoSource, ScriptedSet, TaskSource
from agent.batch.spec import TaskSpec


class TaskFileError(Exception):
    """The task file or folder cannot be used; the message says why."""


@dataclass(frozen=True)
class Task:
    spec: TaskSpec
    source: TaskSource

    @property
    def id(self) -> str:
        return self.spec.id


def _parse(text: str, where: str) -> TaskSpec:
    try:
        return TaskSpec.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TaskFileError(f"{where}: not a task ({first['msg']}: {first['loc']})") from exc


def _jsonl(path: Path) -> list[Task]:
    script = path.parent / "materialize.py"
    tasks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        spec = _parse(line, f"{path}:{number}")
        if spec.repo:
            tasks.append(Task(spec, RepoSource(base=path.parent)))
        elif script.is_file():
            tasks.append(Task(spec, ScriptedSet(script=script, tasks_file=path)))
        else:
            raise TaskFileError(
                f"{path}:{number}: task {spec.id!r} has no `repo` field and there is no materialize.py "
                f"beside {path.name} to build it"
            )
    return tasks


def _minibugs(folder: Path) -> list[Task]:
    source = MiniBugsSet(folder)
    files = sorted(folder.glob("*/task.json"))
    return [Task(_parse(p.read_text(encoding="utf-8"), str(p)), source) for p in files]


def load_tasks(path: Path, only: Sequence[str] = (), limit: int | None = None) -> list[Task]:
    """The tasks of a file or task set folder, optionally only the given ids, at most `limit`."""
    if path.is_dir() and (path / "tasks.jsonl").is_file():
        tasks = _jsonl(path / "tasks.jsonl")
    elif path.is_dir() and (path / "materialize.py").is_file() and any(path.glob("*/task.json")):
        tasks = _minibugs(path)
    elif path.is_file():
        tasks = _jsonl(path)
    else:
        raise TaskFileError(
            f"{path}: expected a JSON-lines task file or a task set folder (materialize.py with "
            "tasks.jsonl or ID/task.json)"
        )
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise TaskFileError(f"{path}: task ids must be unique")
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise TaskFileError(f"no task {', '.join(map(repr, unknown))} in {path}")
        tasks = [t for t in tasks if t.id in set(only)]
    return tasks[:limit] if limit is not None else tasks
