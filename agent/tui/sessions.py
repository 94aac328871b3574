"""Finding and describing the recorded sessions a TUI can reopen."""

from __future__ import annotations

from pathlib import Path

import git

from agent.events import RunFinished, RunStarted
from agent.repo.dirs import session_dir
from agent.run.session import list_sessions, read_trajectory
from agent.run.workspace import WorkspaceError


def describe(path: Path) -> str:
    """`<id>  <status>  <task>` on one line."""
    task, status = "?", "unfinished"
    for event in read_trajectory(path):
        if isinstance(event, RunStarted):
            task = event.task.splitlines()[0][:70] if event.task else ""
        elif isinstance(event, RunFinished):
            status = str(event.report.get("status"))
    return f"{path.stem}  {status:<13} {task}"


def session_rows(repo: git.Repo) -> list[tuple[Path, str]]:
    return [(path, describe(path)) for path in list_sessions(session_dir(repo))]


def find_session(repo: git.Repo, session_id: str) -> Path:
    """The one session whose id starts with `session_id`."""
    paths = list_sessions(session_dir(repo))
    matches = [p for p in paths if p.stem.startswith(session_id)]
    if len(matches) != 1:
        raise WorkspaceError(f"{len(matches)} sessions match {session_id!r}; `agent sessions` lists them")
    return matches[0]
