"""read_file: numbered lines of a file, a range at a time."""

from __future__ import annotations

import difflib

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.repo_files import is_binary, read_text, repo_files

MAX_LINES = 400


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    start_line: int = Field(1, ge=1, description="first line to show (1-based)")
    end_line: int | None = Field(None, ge=1, description="last line to show (default: up to 400 lines)")


def number_lines(lines: list[str], first: int) -> str:
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{n:>{width}}| {line}" for n, line in enumerate(lines, first))


def missing_file_error(ctx: ToolContext, path: str) -> ToolError:
    close = difflib.get_close_matches(path, repo_files(ctx.root), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Use list_files to see the files."
    return ToolError(f"file not found: {path}.{hint}")


class ReadFile:
    name = "read_file"
    description = "Show a file's lines with line numbers. Use start_line/end_line for long files."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = ctx.resolve(args.path)
        if path.is_dir():
            raise ToolError(f"{args.path} is a directory; use list_files")
        if not path.is_file():
            raise missing_file_error(ctx, args.path)
        if is_binary(path):
            raise ToolError(f"{args.path} is a binary file")
        lines = read_text(path).splitlines()
        start = args.start_line
        end = min(args.end_line or start + MAX_LINES - 1, start + MAX_LINES - 1, len(lines))
        if start > max(len(lines), 1):
            raise ToolError(f"{args.path} has only {len(lines)} lines")
        shown = number_lines(lines[start - 1 : end], start)
        header = f"{ctx.relative(path)} (lines {start}-{end} of {len(lines)})"
        more = (
            f"\n[{len(lines) - end} more lines: read_file with start_line={end + 1}]"
            if end < len(lines)
            else ""
        )
        return ToolResult(
            output=f"{header}\n{shown}{more}",
            data={
                "path": ctx.relative(path),
                "start_line": start,
                "end_line": end,
                "total_lines": len(lines),
            },
        )


TOOL = ReadFile()
