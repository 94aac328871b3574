"""edit_file: replace an exact piece of a file with new text.

Forgiving only where it is safe: line-number prefixes copied from read_file output are removed,
trailing-whitespace differences are tolerated, and a block indented differently from the file
(a uniform shift, structure intact) is matched and the replacement re-indented the same way; each
only when it gives exactly one whole-line match. Anything ambiguous is refused with the candidates
shown; it never guesses.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.create_file import writable_path
from tools.read_file import number_lines, readable_file

CONTEXT_LINES = 3
_LINE_PREFIX = re.compile(r"^\s*\d+\| ?")


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    old_text: str = Field(description="exact text to replace, copied from the file (several whole lines)")
    new_text: str = Field(description="the text to put in its place")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    whole_lines: bool  # found by the whitespace-tolerant line match


def strip_line_numbers(text: str) -> str:
    """Remove `  12| ` prefixes when every non-blank line has one (text copied from read_file)."""
    lines = text.splitlines(keepends=True)
    if lines and all(_LINE_PREFIX.match(line) for line in lines if line.strip()):
        return "".join(_LINE_PREFIX.sub("", line, count=1) for line in lines)
    return text


def occurrences(content: str, old: str) -> list[int]:
    starts, at = [], content.find(old)
    while at != -1:
        starts.append(at)
        at = content.find(old, at + 1)
    return starts


def line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def rstrip_match(content: str, old: str) -> Span | None:
    """The unique run of whole lines equal to `old`'s lines, ignoring trailing whitespace."""
    want = [line.rstrip() for line in old.strip("\n").splitlines()]
    lines = content.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    found = [
        Span(offsets[i], offsets[i + len(want)], whole_lines=True)
        for i in range(len(lines) - len(want) + 1)
        if [line.rstrip() for line in lines[i : i + len(want)]] == want
    ]
    return found[0] if len(found) == 1 else None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _line_offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets


def indent_match(content: str, old: str, new: str) -> tuple[Span, str] | None:
    """The unique run of whole lines equal to `old`'s up to a uniform indentation shift, with
    `new` re-indented by the same shift. None unless exactly one such run exists and every line
    keeps its indentation relative to the first (the block's structure is unchanged)."""
    want = old.strip("\n").splitlines()
    stripped = [line.strip() for line in want]
    lines = content.splitlines(keepends=True)
    hits = [
        i
        for i in range(len(lines) - len(want) + 1)
        if [line.strip() for line in lines[i : i + len(want)]] == stripped
    ]
    if len(hits) != 1 or not any(stripped):
        return None
    found = [line.rstrip("\n") for line in lines[hits[0] : hits[0] + len(want)]]
    first = next(i for i, line in enumerate(stripped) if line)
    model_base, file_base = _indent(want[first]), _indent(found[first])
    for mine, theirs in zip(want, found, strict=True):
        if mine.strip() and (
            not mine.startswith(model_base) or file_base + mine[len(model_base) :] != theirs.rstrip()
        ):
            return None
    shifted = [
        file_base + line[len(model_base) :] if line.startswith(model_base) else file_base + line.lstrip()
        for line in new.split("\n")
    ]
    offsets = _line_offsets(lines)
    return Span(offsets[hits[0]], offsets[hits[0] + len(want)], whole_lines=True), "\n".join(
        line if line.strip() else "" for line in shifted
    )


def closest_match(content: str, old: str) -> str:
    """The window of lines (as many as `old` has) most similar to `old`, numbered."""
    lines = content.splitlines()
    size = max(1, len(old.strip("\n").splitlines()))
    best, best_at = -1.0, 0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(old)
    for i in range(max(1, len(lines) - size + 1)):
        matcher.set_seq1("\n".join(lines[i : i + size]))
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
            ratio = matcher.ratio()
            if ratio > best:
                best, best_at = ratio, i
    shown = lines[best_at : best_at + size]
    return (
        f"closest match (lines {best_at + 1}-{best_at + len(shown)}, {max(best, 0):.0%} similar):\n"
        + number_lines(shown, best_at + 1)
    )


def locate(content: str, old: str, shown_path: str, new: str = "") -> tuple[Span, str]:
    """Where `old` is, and the replacement to put there (re-indented when the match needed it)."""
    exact = locate_exact(content, old, shown_path)
    if exact is not None:
        return exact, new
    shifted = indent_match(content, old, new)
    if shifted is not None:
        return shifted
    raise ToolError(
        f"old_text not found in {shown_path}. Copy it exactly from read_file output "
        "(without the line numbers).\n" + closest_match(content, old)
    )


def locate_exact(content: str, old: str, shown_path: str) -> Span | None:
    starts = occurrences(content, old)
    if len(starts) == 1:
        return Span(starts[0], starts[0] + len(old), whole_lines=False)
    if len(starts) > 1:
        lines = ", ".join(str(line_of(content, s)) for s in starts)
        raise ToolError(
            f"old_text occurs {len(starts)} times in {shown_path} (lines {lines}); "
            "include more surrounding lines to make it unique"
        )
    return rstrip_match(content, old)


def changed_region(content: str, first: int, new: str) -> str:
    lines = content.splitlines()
    last = first + max(1, len(new.splitlines())) - 1
    lo, hi = max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES)
    return number_lines(lines[lo - 1 : hi], lo)


def load(path: Path, shown_path: str) -> tuple[str, bool]:
    """The file's text with LF newlines, and whether it used CRLF (restored when writing back)."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{shown_path} is not UTF-8 text; edit it with the shell tool instead") from exc
    crlf = "\r\n" in raw
    return (raw.replace("\r\n", "\n") if crlf else raw), crlf


class EditFile:
    name = "edit_file"
    description = "Replace old_text (copied exactly from the file, whole lines) with new_text."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        writable_path(ctx, args.path)
        path = readable_file(ctx, args.path)
        content, crlf = load(path, args.path)
        old, new = args.old_text, args.new_text
        if not old.strip():
            raise ToolError("old_text is empty; to write a whole file use create_file with overwrite=true")
        if old == new:
            raise ToolError("old_text and new_text are the same; nothing to change")
        if old not in content:
            old, new = strip_line_numbers(old), strip_line_numbers(new)
        span, new = locate(content, old, args.path, new)
        if span.whole_lines and new and not new.endswith("\n") and content[span.end - 1 : span.end] == "\n":
            new += "\n"  # the loose match covers whole lines, newline included
        updated = content[: span.start] + new + content[span.end :]
        path.write_bytes((updated.replace("\n", "\r\n") if crlf else updated).encode("utf-8"))
        rel = ctx.relative(path)
        ctx.edits.append({"tool": self.name, "path": rel, "before": content, "after": updated})
        first = line_of(updated, span.start)
        return ToolResult(
            output=f"edited {rel}:\n" + changed_region(updated, first, new),
            data={"path": rel, "line": first},
        )


TOOL = EditFile()
