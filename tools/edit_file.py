"""edit_file: replace an exact piece of a file with new text.

Forgiving where it is safe: line-number prefixes copied from read_file output are removed, and
trailing whitespace differences are tolerated when that still gives exactly one match. Anything
ambiguous is refused with the candidates shown; it never guesses.
"""

from __future__ import annotations

import difflib
import re

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.read_file import missing_file_error, number_lines
from tools.repo_files import read_text

CONTEXT_LINES = 3
_LINE_PREFIX = re.compile(r"^\s*\d+\| ?")


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    old_text: str = Field(description="exact text to replace, copied from the file (several whole lines)")
    new_text: str = Field(description="the text to put in its place")


def strip_line_numbers(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines and all(_LINE_PREFIX.match(line) for line in lines if line.strip()):
        return "".join(_LINE_PREFIX.sub("", line, count=1) for line in lines)
    return text


def _occurrences(content: str, old: str) -> list[int]:
    starts, at = [], content.find(old)
    while at != -1:
        starts.append(at)
        at = content.find(old, at + 1)
    return starts


def _line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _rstrip_match(content: str, old: str) -> tuple[int, int] | None:
    """A unique match of `old`'s lines ignoring trailing whitespace: (start, end) offsets."""
    want = [line.rstrip() for line in old.strip("\n").splitlines()]
    lines = content.splitlines(keepends=True)
    found: list[tuple[int, int]] = []
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for i in range(len(lines) - len(want) + 1):
        if [line.rstrip() for line in lines[i : i + len(want)]] == want:
            found.append((offsets[i], offsets[i + len(want)]))
    return found[0] if len(found) == 1 else None


def closest_match(content: str, old: str) -> str:
    lines = content.splitlines()
    size = max(1, len(old.strip("\n").splitlines()))
    best, best_at = 0.0, 0
    for i in range(max(1, len(lines) - size + 1)):
        ratio = difflib.SequenceMatcher(None, "\n".join(lines[i : i + size]), old).ratio()
        if ratio > best:
            best, best_at = ratio, i
    return f"closest match (lines {best_at + 1}-{best_at + size}, {best:.0%} similar):\n" + number_lines(
        lines[best_at : best_at + size], best_at + 1
    )


class EditFile:
    name = "edit_file"
    description = "Replace old_text (copied exactly from the file, whole lines) with new_text."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = ctx.resolve(args.path)
        if not path.is_file():
            raise missing_file_error(ctx, args.path)
        content = read_text(path)
        old, new = args.old_text, args.new_text
        if not old.strip():
            raise ToolError("old_text is empty; to write a whole file use create_file with overwrite=true")
        if old not in content:
            old, new = strip_line_numbers(old), strip_line_numbers(new)
        start, end = self._locate(content, old, args.path)
        if content[start:end].endswith("\n") and not new.endswith("\n") and old.endswith("\n"):
            new += "\n"
        updated = content[:start] + new + content[end:]
        path.write_text(updated, encoding="utf-8")
        ctx.edits.append({"tool": self.name, "path": ctx.relative(path), "before": content, "after": updated})
        first = _line_of(updated, start)
        return ToolResult(
            output=f"edited {ctx.relative(path)}:\n" + self._region(updated, first, new),
            data={"path": ctx.relative(path), "line": first},
        )

    def _locate(self, content: str, old: str, shown_path: str) -> tuple[int, int]:
        starts = _occurrences(content, old)
        if len(starts) == 1:
            return starts[0], starts[0] + len(old)
        if len(starts) > 1:
            lines = ", ".join(str(_line_of(content, s)) for s in starts)
            raise ToolError(
                f"old_text occurs {len(starts)} times in {shown_path} (lines {lines}); "
                "include more surrounding lines to make it unique"
            )
        loose = _rstrip_match(content, old)
        if loose is not None:
            return loose
        raise ToolError(
            f"old_text not found in {shown_path}. Copy it exactly from read_file output.\n"
            + closest_match(content, old)
        )

    @staticmethod
    def _region(content: str, first: int, new: str) -> str:
        lines = content.splitlines()
        last = first + max(1, len(new.splitlines())) - 1
        lo, hi = max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES)
        return number_lines(lines[lo - 1 : hi], lo)


TOOL = EditFile()
