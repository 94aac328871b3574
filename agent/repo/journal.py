"""The edit journal: every file change a run makes, in order, so it can be undone step by step.

Tools record each change (`ctx.edits.record(...)`) with the file's exact text before and after
(None: the file did not exist / was deleted). With a path, each record is appended to that file as
one JSON line at once (a crash loses nothing); `agent fix` keeps it next to the session
trajectory, as `<git-common-dir>/.agent/sessions/<session>.edits`.

Undoing appends a record too (tool "undo", `undoes` naming the edit it reverted), so the journal
stays an append-only history and `pending()` is what can still be undone. `undo()` reverts files
in a worktree during a run (the TUI's undo); `agent undo` reverts them on the agent's branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.repo.beneath import read_beneath, write_beneath


class UndoError(Exception):
    """An undo that cannot be done safely (nothing left, or the file changed since the edit)."""


class EditRecord(BaseModel):
    seq: int  # 1-based position in the journal
    tool: str
    path: str  # relative to the repository root
    before: str | None
    after: str | None
    undoes: int | None = None  # for an undo: the seq of the edit it reverted
    commit: str | None = None  # for an undo made by `agent undo`: the commit holding it


class EditJournal:
    def __init__(self, path: Path | None = None, records: list[EditRecord] | None = None) -> None:
        self.path = path
        self._records: list[EditRecord] = list(records or [])

    @classmethod
    def load(cls, path: Path) -> EditJournal:
        """The journal saved at `path`, further records appended to it."""
        records = [
            EditRecord.model_validate_json(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        return cls(path, records)

    def record(
        self,
        tool: str,
        path: str,
        before: str | None,
        after: str | None,
        undoes: int | None = None,
        commit: str | None = None,
    ) -> EditRecord:
        entry = EditRecord(
            seq=len(self._records) + 1,
            tool=tool,
            path=path,
            before=before,
            after=after,
            undoes=undoes,
            commit=commit,
        )
        self._records.append(entry)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(entry.model_dump_json() + "\n")
        return entry

    def append(self, entry: dict[str, Any]) -> EditRecord:
        """Record a change given as {tool, path, before, after}."""
        return self.record(entry["tool"], entry["path"], entry["before"], entry["after"])

    def __iter__(self) -> Iterator[EditRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> EditRecord:
        return self._records[index]

    def pending(self) -> list[EditRecord]:
        """The edits not undone yet, oldest first (undo records themselves excluded)."""
        undone = {r.undoes for r in self._records if r.undoes is not None}
        return [r for r in self._records if r.undoes is None and r.seq not in undone]

    def plan_undo(self, count: int, current: dict[str, str | None]) -> list[EditRecord]:
        """The last `count` pending edits, newest first, checked against the files' current text.

        `current` maps each path touched to its text now (None: missing); it is updated to the text
        each file will have once those edits are reverted.
        """
        pending = self.pending()
        if not pending:
            raise UndoError("nothing left to undo" if self._records else "no edits were made")
        if count < 1:
            raise UndoError("the number of edits to undo must be at least 1")
        chosen = pending[-count:][::-1]
        for rec in chosen:
            if current.get(rec.path) != rec.after:
                raise UndoError(
                    f"{rec.path} changed after edit {rec.seq} ({rec.tool}) by something the journal "
                    "did not record (a shell command?); nothing was undone"
                )
            current[rec.path] = rec.before
        return chosen

    def undo(self, root: Path, count: int = 1) -> list[EditRecord]:
        """Revert the last `count` edits in the worktree at `root`; returns the undo records."""
        pending = self.pending()[-count:] if count >= 1 else []
        current = {rec.path: _read(root, rec.path) for rec in pending}
        chosen = self.plan_undo(count, current)
        for path, text in current.items():
            try:
                write_beneath(root, path, None if text is None else text.encode("utf-8"))
            except OSError as exc:
                raise UndoError(f"cannot write {path}: {exc}") from exc
        return [self.record("undo", rec.path, rec.after, rec.before, undoes=rec.seq) for rec in chosen]


def _read(root: Path, rel: str) -> str | None:
    """The file's text now; never read through a symbolic link (the model's commands plant them)."""
    try:
        return read_beneath(root, rel).decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UndoError(
            f"{rel} is no longer the text file the journal recorded ({exc}); nothing was undone"
        ) from exc
