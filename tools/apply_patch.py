"""apply_patch: a unified diff or a `*** Begin Patch` envelope, all files or none.

Each hunk is located with the same matching ladder as edit_file (tools/editing/matching.py), never by
its line numbers alone: a header's line number only picks between equally good places when it
names one of them exactly, and hunks of one file are applied in order. Every file is checked
(syntax included) before any is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.edit_file import strip_line_numbers
from tools.editing.blocks import Ambiguous, Match, NoMatch, Query, key
from tools.editing.changes import FileChange, commit, describe, writable_path
from tools.editing.elision import new_only_marker, truncation_refusal
from tools.editing.matching import find_block
from tools.editing.patch_parse import FilePatch, Hunk, parse_patch
from tools.editing.textfile import TextFile, read_disk_text, readable_file


class Args(ToolArgs):
    patch: str = Field(description="the patch text")


@dataclass
class Working:
    """A file's text as the patch so far leaves it."""

    rel: str
    before: str | None
    file: TextFile | None  # None: deleted (or not created yet)
    regions: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _query(hunk: Hunk, old: list[str], new: list[str], n: int, rel: str, shift: int, after: int) -> Query:
    hint = None if hunk.hint is None else max(0, hunk.hint + shift)
    return Query(old, new, f"hunk {n} ({hunk.header})", rel, hint, after)


def _anchor_after(lines: list[str], anchors: list[str], after: int) -> int:
    """The line after the envelope's `@@ scope` lines (each searched after the previous)."""
    for anchor in anchors:
        found = next((i for i in range(after, len(lines)) if key(lines[i]) == key(anchor)), None)
        if found is None:
            found = next((i for i in range(len(lines)) if key(lines[i]) == key(anchor)), None)
        if found is None:
            return after  # a scope line that is not there narrows nothing; the hunk must be unique
        after = found + 1
    return after


RUNG_RANK = {"exact": 0, "whitespace": 1, "elision": 2, "fuzzy": 3}


def _rank(match: Match) -> tuple[int, int]:
    return RUNG_RANK[match.rung], 1 if match.note else 0  # a re-indented match ranks below a plain one


def _readings(hunk: Hunk) -> list[tuple[list[str], list[str], bool]]:
    """(old, new, fuzzy allowed): the hunk as the diff format reads it, then with context lines
    keeping their first character (only whitespace differs, so the fuzzy rung would add nothing),
    then without line numbers copied from read_file."""
    found = [(hunk.old, hunk.new, True)]
    if hunk.raw_old is not None and hunk.raw_new is not None:
        found.append((hunk.raw_old, hunk.raw_new, False))
    old, new = (_without_numbers(side) for side in (hunk.old, hunk.new))
    if old != hunk.old:
        found.append((old, new, True))
    return found


def _without_numbers(lines: list[str]) -> list[str]:
    return strip_line_numbers("\n".join(lines)).split("\n") if lines else lines


def _locate(lines: list[str], hunk: Hunk, n: int, rel: str, shift: int, after: int) -> Match:
    """The best place of the hunk over its readings; two readings that land in different places
    at the same rung are ambiguous and refused."""
    after = _anchor_after(lines, hunk.anchors, after)
    matches: list[Match] = []
    for old, new, fuzzy in _readings(hunk):
        query = _query(hunk, old, new, n, rel, shift, after)
        try:
            matches.append(find_block(lines, replace(query, fuzzy=fuzzy, explain=False)))
        except Ambiguous:
            raise
        except NoMatch:
            continue
        if _rank(matches[0]) == (0, 0):
            break
    if not matches:
        find_block(lines, _query(hunk, hunk.old, hunk.new, n, rel, shift, after))  # raises, explained
        raise AssertionError("a hunk matched only when explaining")
    best = min(_rank(m) for m in matches)
    top = [m for m in matches if _rank(m) == best]
    if any((m.start, m.end) != (top[0].start, top[0].end) for m in top):
        raise Ambiguous(
            f"hunk {n} ({hunk.header}) of {rel} fits lines {top[0].start + 1}-{top[0].end} and lines "
            f"{top[1].start + 1}-{top[1].end} equally well; check the leading space of its context "
            "lines and add more context. Nothing was changed."
        )
    return top[0]


def _apply_hunks(work: Working, patch: FilePatch) -> None:
    assert work.file is not None
    file, shift, after = work.file, 0, 0
    for n, hunk in enumerate(patch.hunks, 1):
        marker = new_only_marker(hunk.old, hunk.new)
        if marker is not None:
            raise ToolError(truncation_refusal(marker, f"hunk {n} of {patch.path}"))
        if not any(line.strip() for line in hunk.old):
            start = _insertion_point(file, hunk, n, patch.path)
            match = Match(start, start, list(hunk.new), "exact")
        else:
            match = _locate(file.lines, hunk, n, patch.path, shift, after)
        file = file.replaced(match.start, match.end, match.lines)
        work.regions = [
            (
                s + len(match.lines) - (match.end - match.start),
                e + len(match.lines) - (match.end - match.start),
            )
            if s >= match.end
            else (s, e)
            for s, e in work.regions
        ]
        work.regions.append((match.start, match.start + len(match.lines)))
        if match.note:
            work.notes.append(f"hunk {n}: {match.note}")
        shift += len(match.lines) - (match.end - match.start)
        after = match.start + len(match.lines)
    work.file = file


def _insertion_point(file: TextFile, hunk: Hunk, n: int, path: str) -> int:
    """Where a hunk with no old lines goes: only an empty file or the envelope's end of file are safe."""
    if not file.lines or hunk.at_eof:
        return len(file.lines)
    raise ToolError(
        f"hunk {n} ({hunk.header}) of {path} has no context lines, so its place is known only by line "
        "numbers; include 2-3 unchanged lines around the change. Nothing was changed."
    )


def _open(ctx: ToolContext, rel: str, works: dict[str, Working]) -> Working:
    if rel not in works:
        path = writable_path(ctx, rel)
        if path.exists():
            text = read_disk_text(readable_file(ctx, rel), rel)
            works[rel] = Working(ctx.relative(path), text, TextFile.parse(text))
        else:
            works[rel] = Working(ctx.relative(path), None, None)
    return works[rel]


def _apply_file(ctx: ToolContext, patch: FilePatch, works: dict[str, Working]) -> None:
    work = _open(ctx, patch.path, works)
    if patch.kind == "add":
        if work.file is not None and work.file.lines:
            raise ToolError(f"{patch.path} already exists; use *** Update File: (or a diff with context)")
        work.file = TextFile(lines=list(patch.content), endings=["\n"] * len(patch.content))
        work.regions = [(0, len(patch.content))]
        return
    if work.file is None:
        raise ToolError(f"{patch.path} does not exist; to create it use *** Add File: (or --- /dev/null)")
    if patch.kind == "delete":
        work.file = None
        return
    _apply_hunks(work, patch)
    if patch.move_to is not None:
        target = _open(ctx, patch.move_to, works)
        if target.file is not None:
            raise ToolError(f"cannot move {patch.path} to {patch.move_to}: it already exists")
        target.file, target.regions, target.notes = work.file, work.regions, work.notes
        work.file = None


class ApplyPatch:
    name = "apply_patch"
    kind: ToolKind = "edit"
    description = "Apply a unified diff or a *** Begin Patch envelope (Update/Add/Delete File)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        works: dict[str, Working] = {}
        for patch in parse_patch(args.patch):
            _apply_file(ctx, patch, works)
        changes = [
            FileChange(
                w.rel, ctx.resolve(w.rel), w.before, w.file.render() if w.file else None, w.regions, w.notes
            )
            for w in works.values()
            if (w.file.render() if w.file else None) != w.before
        ]
        if not changes:
            raise ToolError("the patch changes nothing")
        commit(ctx, self.name, changes)
        return ToolResult(
            output="\n".join(describe(c) for c in changes),
            data={"files": [c.rel for c in changes]},
        )


TOOL = ApplyPatch()
