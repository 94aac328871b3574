"""replace_lines: replace a range of lines by number, tied to the version of the file the model read.

read_file's header and every edit's result carry a short hash of the file. Line numbers mean
something only for that version, so the edit is refused when the file's hash is no longer the
one given: the model must read the file again (an edit it made itself also changes the hash, and
its result shows the new one with the renumbered lines).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.edit_file import strip_line_numbers
from tools.editing.blocks import key
from tools.editing.changes import change_of, commit, describe, open_target
from tools.editing.textfile import normalise_newlines, short_hash, split_lines
from tools.grounding import Ground


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    start_line: int = Field(ge=1, description="first line to replace")
    end_line: int = Field(ge=1, description="last line to replace")
    new_text: str = Field(description="the lines to put there (empty: delete them)")
    hash: str = Field(description="the file's hash from read_file or your last edit")


def _clean_hash(given: str) -> str:
    return given.strip().strip("()[]`'\"").lower().removeprefix("hash").strip(" :=")


def _check_boundaries(lines: list[str], start: int, end: int, new: list[str], path: str) -> None:
    """Refuse new text that repeats the line just outside the range: an off-by-one range, which
    would leave that line doubled."""
    outside = [(start - 1, 0, "start_line", start), (end, -1, "end_line", end + 1)]
    for at, edge, name, suggestion in outside:
        if not new or not 0 <= at < len(lines) or len(key(lines[at])) < 4:
            continue
        if key(new[edge]) == key(lines[at]):
            raise ToolError(
                f"new_text {'starts' if edge == 0 else 'ends'} with line {at + 1} of {path}, which is "
                f"outside lines {start + 1}-{end}: set {name}={suggestion} to replace it too, or drop it "
                "from new_text. Nothing was changed."
            )


class ReplaceLines:
    name = "replace_lines"
    kind: ToolKind = "edit"
    description = "Replace lines start_line..end_line with new_text. hash: from read_file's header."
    args_model = Args
    grounds: ClassVar[dict[str, Ground]] = {"path": Ground.EDITABLE}  # tools/grounding.py

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        target = open_target(ctx, args.path)
        current = short_hash(target.text)
        if _clean_hash(args.hash) != current:
            raise ToolError(
                f"{args.path} changed since you read it (hash {args.hash.strip()}, now {current}); "
                "read it again with read_file and use the new line numbers and hash. Nothing was changed."
            )
        total = len(target.file.lines)
        if args.end_line < args.start_line:
            raise ToolError(f"end_line ({args.end_line}) is before start_line ({args.start_line})")
        if args.end_line > total:
            raise ToolError(f"{args.path} has {total} lines; end_line {args.end_line} is past its end")
        new_lines = split_lines(strip_line_numbers(normalise_newlines(args.new_text)))
        start = args.start_line - 1
        _check_boundaries(target.file.lines, start, args.end_line, new_lines, args.path)
        updated = target.file.replaced(start, args.end_line, new_lines)
        change = change_of(target, updated, [(start, start + len(new_lines))])
        commit(ctx, self.name, [change])
        return ToolResult(output=describe(change), data={"path": target.rel, "line": args.start_line})


TOOL = ReplaceLines()
