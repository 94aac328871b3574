"""read_file: numbered lines of a file, a range at a time."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.editing.textfile import hash_bytes, number_lines, readable_file
from tools.grounding import Ground

MAX_LINES = 400
MAX_LINE_CHARS = 500


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    start_line: int = Field(1, ge=1, description="first line to show (1-based)")
    end_line: int | None = Field(None, ge=1, description="last line to show (default: up to 400 lines)")


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} ... [{len(line) - MAX_LINE_CHARS} more characters]"


class ReadFile:
    name = "read_file"
    kind: ToolKind = "read"
    description = "Show a file's lines with line numbers. Use start_line/end_line for long files."
    args_model = Args
    grounds: ClassVar[dict[str, Ground]] = {"path": Ground.FILE}  # tools/grounding.py

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = readable_file(ctx, args.path)
        raw = path.read_bytes()
        digest = hash_bytes(raw)
        lines = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")
        lines = lines[:-1] if lines[-1] == "" else lines
        rel = ctx.relative(path)
        if not lines:
            return ToolResult(
                output=f"{rel} is empty (hash {digest})", data={"path": rel, "total_lines": 0, "hash": digest}
            )
        start = args.start_line
        if start > max(len(lines), 1):
            raise ToolError(f"{args.path} has only {len(lines)} lines; use a smaller start_line")
        last_allowed = start + MAX_LINES - 1
        end = min(args.end_line or last_allowed, last_allowed, len(lines))
        if end < start:
            raise ToolError(f"end_line ({end}) is before start_line ({start})")
        shown = number_lines([_clip(line) for line in lines[start - 1 : end]], start)
        more = (
            f"\n[{len(lines) - end} more lines: read_file with start_line={end + 1}]"
            if end < len(lines)
            else ""
        )
        return ToolResult(
            output=f"{rel} (lines {start}-{end} of {len(lines)}, hash {digest})\n{shown}{more}",
            data={
                "path": rel,
                "start_line": start,
                "end_line": end,
                "total_lines": len(lines),
                "hash": digest,
            },
        )


TOOL = ReadFile()
