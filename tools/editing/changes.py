"""Writing edits: every editing tool ends here, so all of them check, write and record the same way.

`commit` takes the new text of one or more files, refuses the lot if any file that parsed before
would not parse after (the model gets the error with numbered context), writes them all or none,
and records each change in the edit journal; a Python name the change uses but nothing defines is
noted (tools/editing/lint.py). `describe` shows the model the changed lines with
their new numbers and the file's new hash, so its view of the file stays in sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.base import NoChange, ToolContext, ToolError
from tools.editing.blocks import number
from tools.editing.lint import new_problems
from tools.editing.syntax import describe_problem, edit_breaks_syntax
from tools.editing.textfile import TextFile, read_disk_text, readable_file, short_hash

CONTEXT_LINES = 2
MAX_SHOWN_LINES = 60


def writable_path(ctx: ToolContext, path: str) -> Path:
    """A path inside the repository that is not git's own data, when the policy allows writes."""
    if not ctx.writable:
        raise ToolError("the sandbox policy is read-only: files cannot be changed in this run")
    resolved = ctx.resolve(path)
    if ".git" in resolved.relative_to(ctx.root.resolve()).parts:
        raise ToolError(f"{path} is inside .git; the agent may not write there")
    if resolved.is_dir():
        raise ToolError(f"{path} is a directory; give a file path")
    if resolved.is_file() and resolved.stat().st_nlink > 1:
        raise ToolError(f"{path} is a hard link shared with another file; the agent may not write it")
    return resolved


@dataclass
class FileChange:
    rel: str  # as shown to the model (relative to the repository root)
    path: Path
    before: str | None  # exact text on disk; None: the file does not exist yet
    after: str | None  # None: delete the file
    regions: list[tuple[int, int]] = field(default_factory=list)  # 0-based [start, end) in `after`
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    """An existing text file opened for editing."""

    rel: str
    path: Path
    text: str
    file: TextFile


def open_target(ctx: ToolContext, path: str) -> Target:
    writable_path(ctx, path)
    resolved = readable_file(ctx, path)
    text = read_disk_text(resolved, path)
    return Target(ctx.relative(resolved), resolved, text, TextFile.parse(text))


def change_of(target: Target, updated: TextFile, regions: list[tuple[int, int]]) -> FileChange:
    return FileChange(target.rel, target.path, target.text, updated.render(), regions)


def commit(ctx: ToolContext, tool: str, changes: list[FileChange]) -> None:
    """Check every change, then write them all (or none) and record them in the journal."""
    if changes and all(change.before == change.after for change in changes):
        shown = ", ".join(change.rel for change in changes)
        raise NoChange(
            f"the edit would leave {shown} exactly as it is: nothing changed. new_text must be the code "
            "as it should read after the fix; if the tests still fail, the fault is elsewhere."
        )
    for change in changes:
        if change.before is not None and ctx.protected(change.rel):
            raise ToolError(
                f"{change.rel} is one of the repository's tests: they say what the fixed code must do, "
                "so they stay as they are and the fix goes in the code they test. Nothing was changed."
            )
    parsers = ctx.cache.setdefault("syntax_parsers", {})
    for change in changes:
        if change.after is None:
            continue
        problem = edit_breaks_syntax(change.rel, change.before, change.after, parsers)
        if problem is not None:
            raise ToolError(describe_problem(change.rel, change.after, problem))
    written: list[FileChange] = []
    try:
        for change in changes:
            _put(change.path, change.after)
            written.append(change)
    except OSError as exc:
        for done in written:
            _put(done.path, done.before)
        raise ToolError(f"cannot write {change.rel}: {exc.strerror or exc}; nothing was changed") from exc
    for change in changes:
        ctx.edits.record(tool, change.rel, change.before, change.after)
        change.notes.extend(
            f"{problem}: new with this edit, it fails there when run; define or import it before it is used"
            for problem in new_problems(change.rel, change.before, change.after)
        )


def _put(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def _merged(regions: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    spans = sorted((max(0, s - CONTEXT_LINES), min(total, max(e, s + 1) + CONTEXT_LINES)) for s, e in regions)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def describe(change: FileChange) -> str:
    """What the model reads after an edit: the new hash and the changed lines, numbered."""
    if change.after is None:
        return f"deleted {change.rel}"
    lines = TextFile.parse(change.after).lines
    verb = "created" if change.before is None else "edited"
    head = f"{verb} {change.rel} ({len(lines)} lines, hash {short_hash(change.after)})"
    if change.before is None and len(lines) > MAX_SHOWN_LINES:
        return head
    shown, budget = [], MAX_SHOWN_LINES
    for start, end in _merged(change.regions or [(0, len(lines))], len(lines)):
        end = min(end, start + budget)
        if end <= start:
            shown.append("[... more changes; read_file shows them]")
            break
        shown.append(number(lines[start:end], start + 1))
        budget -= end - start
    notes = "".join(f"\nnote: {note}" for note in change.notes)
    return head + ":\n" + "\n...\n".join(shown) + notes
