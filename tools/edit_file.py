"""edit_file: replace a piece of a file (search and replace), forgiving where it is safe.

old_text found exactly once, character for character, is replaced as given. Otherwise line-number
prefixes copied from read_file are dropped and the matching ladder (tools/matching.py) looks for
the lines: up to whitespace and indentation (the replacement re-indented), with `...` standing for
left-out lines, or with a misremembered line when the place is still unmistakable. Anything
ambiguous is refused with the candidates shown; it never guesses.
"""

from __future__ import annotations

import re
from typing import ClassVar, NoReturn

from pydantic import Field

from tools.base import NoChange, ToolArgs, ToolContext, ToolError, ToolResult
from tools.blocks import Match, Query, exact_candidates, show
from tools.changes import Target, change_of, commit, describe, open_target
from tools.elision import new_only_marker, truncation_refusal
from tools.grounding import Ground
from tools.matching import find_block
from tools.reindent import conform
from tools.textfile import TextFile, normalise_newlines, split_lines

MAX_PLACES_SHOWN = 4
_LINE_PREFIX = re.compile(r"^\s*\d+\| ?")


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    old_text: str = Field(description="exact text to replace, copied from the file (several whole lines)")
    new_text: str = Field(description="the text to put in its place")


def strip_line_numbers(text: str) -> str:
    """Remove `  12| ` prefixes when every non-blank line has one (text copied from read_file)."""
    lines = text.split("\n")
    if any(line.strip() for line in lines) and all(
        _LINE_PREFIX.match(line) for line in lines if line.strip()
    ):
        return "\n".join(_LINE_PREFIX.sub("", line, count=1) for line in lines)
    return text


def occurrences(content: str, old: str) -> list[int]:
    starts, at = [], content.find(old)
    while at != -1:
        starts.append(at)
        at = content.find(old, at + 1)
    return starts


def exact_replacement(file: TextFile, old: str, new: str, at: int) -> tuple[TextFile, tuple[int, int]]:
    """The file with `old` (found at offset `at` of its LF text) replaced by `new`, and the new
    0-based [start, end) of the changed lines."""
    text = file.lf_text()
    if old.endswith("\n") and new and not new.endswith("\n") and at + len(old) < len(text):
        new += "\n"  # whole lines replaced by whole lines: the next line stays a line of its own
    updated_text = text[:at] + new + text[at + len(old) :]
    updated = TextFile.parse(updated_text).lines
    start = text.count("\n", 0, at)
    after = max(0, len(file.lines) - text.count("\n", 0, at + len(old)) - 1)  # untouched lines below
    middle = conform(file.lines, updated[start : len(updated) - after])
    result = file.replaced(start, len(file.lines) - after, middle)
    if after == 0 and result.endings:
        result.endings[-1] = file.newline if updated_text.endswith("\n") else ""
    return result, (start, len(updated) - after)


def _inside_indentation(text: str, at: int, old: str, new: str) -> bool:
    """A hit that starts inside a line's indentation, for more than one line: the model's lines
    are indented differently from the file's, so the ladder must re-indent them."""
    prefix = text[text.rfind("\n", 0, at) + 1 : at]
    return bool(prefix) and not prefix.strip() and ("\n" in old.rstrip("\n") or "\n" in new.rstrip("\n"))


def _substring_edit(
    target: Target, old: str, new: str, shown: str
) -> tuple[TextFile, tuple[int, int]] | None:
    text = target.file.lf_text()
    starts = occurrences(text, old)
    if len(starts) == 1 and not _inside_indentation(text, starts[0], old, new):
        return exact_replacement(target.file, old, new, starts[0])
    if len(starts) > 1 and len(exact_candidates(target.file.lines, split_lines(old))) != 1:
        rows = [text.count("\n", 0, s) for s in starts]
        places = ", ".join(str(row + 1) for row in rows[:8])
        spans = old.rstrip("\n").count("\n") + 1
        # each place with the line above it: copying that line into old_text makes it unique
        where = "\n...\n".join(
            show(target.file.lines, max(row - 1, 0), row + spans) for row in rows[:MAX_PLACES_SHOWN]
        )
        raise ToolError(
            f"old_text occurs {len(starts)} times in {shown} (lines {places}); include the line above "
            "(or below) the place you mean in old_text, so it matches that place only. "
            f"Nothing was changed.\n{where}"
        )
    return None  # not there as typed (or one whole-line block among partial hits): the ladder decides


def _ladder_edit(target: Target, old: str, new: str, shown: str) -> tuple[TextFile, tuple[int, int], Match]:
    match = find_block(target.file.lines, Query(split_lines(old), split_lines(new), "old_text", shown))
    updated = target.file.replaced(match.start, match.end, match.lines)
    return updated, (match.start, match.start + len(match.lines)), match


def _same_text(target: Target, old: str, shown: str) -> NoReturn:
    """Refuse an edit whose old and new text are the same: why nothing changes, what to send instead."""
    text = target.file.lf_text()
    at = text.find(old.strip("\n"))
    if at == -1:
        raise ToolError(
            f"old_text and new_text are the same, and old_text is not in {shown} either. Copy old_text "
            "from the file as it is now (read_file shows it) and write the fixed code in new_text. "
            "Nothing was changed."
        )
    line = text.count("\n", 0, at)
    raise NoChange(
        f"old_text and new_text are the same, so nothing would change: that text is in {shown} "
        f"already (line {line + 1}). new_text must be the code as it should read after the fix; if the "
        "tests still fail, the fault is elsewhere: read the failure again.\n"
        f"{show(target.file.lines, line, line + 1)}"
    )


class EditFile:
    name = "edit_file"
    description = "Replace old_text (copied exactly from the file, whole lines) with new_text."
    args_model = Args
    grounds: ClassVar[dict[str, Ground]] = {"path": Ground.EDITABLE, "old_text": Ground.LINES}

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        target = open_target(ctx, args.path)
        old, new = normalise_newlines(args.old_text), normalise_newlines(args.new_text)
        if not old.strip():
            raise ToolError("old_text is empty; to write a whole file use create_file with overwrite=true")
        if old.strip().strip("`#: ") in {args.path, target.rel, target.path.name}:
            raise ToolError(
                f"old_text is the file's name, not its text. To rewrite all of {args.path} use create_file "
                "with overwrite=true and the whole new file as content; to change part of it, copy those "
                "lines into old_text. Nothing was changed."
            )
        if old == new:
            _same_text(target, old, args.path)
        marker = new_only_marker(split_lines(old), split_lines(new))
        if marker is not None:
            raise ToolError(truncation_refusal(marker, "new_text"))
        note = ""
        found = _substring_edit(target, old, new, args.path)
        if found is None:
            stripped_old, stripped_new = strip_line_numbers(old), strip_line_numbers(new)
            if stripped_old != old:
                old, new = stripped_old, stripped_new
                found = _substring_edit(target, old, new, args.path)
        if found is None:
            updated, region, match = _ladder_edit(target, old, new, args.path)
            note = match.note
        else:
            updated, region = found
        change = change_of(target, updated, [region])
        if note:
            change.notes.append(note)
        commit(ctx, self.name, [change])
        return ToolResult(output=describe(change), data={"path": target.rel, "line": region[0] + 1})


TOOL = EditFile()
