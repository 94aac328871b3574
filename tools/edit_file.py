"""edit_file: replace a piece of a file (search and replace), forgiving where it is safe.

old_text found exactly once, character for character, is replaced as given. Otherwise line-number
prefixes copied from read_file are dropped and the matching ladder (tools/editing/matching.py) looks for
the lines: up to whitespace and indentation (the replacement re-indented), with `...` standing for
left-out lines, or with a misremembered line when the place is still unmistakable. Anything
ambiguous is refused with the candidates shown; it never guesses. An edit that would not parse
only because new lines carry numbers in place of their indentation gets the old lines'
indentation instead, when the file then parses.
"""

from __future__ import annotations

import re
from typing import ClassVar, NoReturn

from pydantic import Field

from tools.base import NoChange, ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.editing.blocks import Match, NoMatch, Query, exact_candidates, show
from tools.editing.changes import Target, change_of, commit, describe, open_target
from tools.editing.elision import new_only_marker, truncation_refusal
from tools.editing.matching import find_block
from tools.editing.reindent import conform
from tools.editing.textfile import TextFile, normalise_newlines, split_lines
from tools.grounding import Ground

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


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _inside_indentation(text: str, at: int, old: str, new: str) -> bool:
    """A hit that starts inside a line's indentation, where the model's new lines are indented
    from its first line rather than as the file is: the ladder must re-indent them.

    Old lines after the first are in the file as typed, so new lines indented at least as deep as
    those are in the file's own frame and go in as typed (the call grammar lets old_text's first
    line start inside its indentation; the ladder's map, 0 -> 4 for that line and 8 -> 8 for the
    rest, moved a body written at 8 columns to 6)."""
    prefix = text[text.rfind("\n", 0, at) + 1 : at]
    if not prefix or prefix.strip() or "\n" not in new.rstrip("\n"):
        return False
    old_rest = [line for line in old.rstrip("\n").split("\n")[1:] if line.strip()]
    new_rest = [line for line in new.rstrip("\n").split("\n")[1:] if line.strip()]
    if not old_rest:  # one old line: the new lines can only be relative to it
        return True
    floor = min(_indent(line) for line in old_rest)
    return any(_indent(line) < floor for line in new_rest)


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


_NUMBER_RUN = re.compile(r"^[ \t]*(?:\d+[ \t]+)+(?=\S)")
NUMBERS_NOTE = (
    "the numbers your new_text had in place of indentation were dropped; it is indented as the file's line"
)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def drop_number_runs(old: str, new: str) -> str | None:
    """new_text with runs of numbers in place of a line's indentation (`    1  1  1  s.debug = ...`,
    the 1.5B model's garbled line-number habit) replaced by the indentation that line has in
    old_text, else by that of the old line in its place; None when there is neither. The edit is
    then kept only if the file parses."""
    old_lines = old.split("\n")
    indent = {line.strip(): _indent_of(line) for line in old_lines if line.strip()}
    lines = new.split("\n")
    changed = False
    for i, line in enumerate(lines):
        run = _NUMBER_RUN.match(line)
        if run is None:
            continue
        text = line[run.end() :].strip()
        if text in indent:  # an old line, unchanged
            lines[i] = indent[text] + text
        elif i < len(old_lines) and old_lines[i].strip():  # a changed line: the old line in its place
            lines[i] = _indent_of(old_lines[i]) + text
        else:
            return None
        changed = True
    return "\n".join(lines) if changed else None


class EditFile:
    name = "edit_file"
    kind: ToolKind = "edit"
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
        try:
            return self._apply(target, old, new, args.path, ctx)
        except ToolError as exc:
            repaired = drop_number_runs(old, new)
            if repaired is None or "syntax error" not in str(exc):
                raise
            try:  # the same edit without the numbers the model wrote for indentation, if it parses
                result = self._apply(target, old, repaired, args.path, ctx, NUMBERS_NOTE)
            except ToolError:
                raise exc from None
            return result

    def _apply(
        self, target: Target, old: str, new: str, shown: str, ctx: ToolContext, extra_note: str = ""
    ) -> ToolResult:
        note = ""
        found = _substring_edit(target, old, new, shown)
        if found is None:
            stripped_old, stripped_new = strip_line_numbers(old), strip_line_numbers(new)
            if stripped_old != old:
                old, new = stripped_old, stripped_new
                found = _substring_edit(target, old, new, shown)
        if found is None:
            try:
                updated, region, match = _ladder_edit(target, old, new, shown)
                note = match.note
            except NoMatch:
                # there exactly once, starting inside the first line's indentation, with the lines
                # after it as the file has them (the call grammar lets the first line start there):
                # no one indentation map fits both, yet the place is certain; replace it as typed
                starts = occurrences(target.file.lf_text(), old)
                if len(starts) != 1:
                    raise
                updated, region = exact_replacement(target.file, old, new, starts[0])
        else:
            updated, region = found
        change = change_of(target, updated, [region])
        change.notes += [n for n in (note, extra_note) if n]
        commit(ctx, self.name, [change])
        return ToolResult(output=describe(change), data={"path": target.rel, "line": region[0] + 1})


TOOL = EditFile()
