"""read_file: numbered lines of a file, a range at a time."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from agent.repo.files import close_names, is_binary, repo_files
from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.grounding import Ground
from tools.textfile import hash_bytes

MAX_LINES = 400
MAX_LINE_CHARS = 500
DIRECTORY_PREVIEW = 20


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    start_line: int = Field(1, ge=1, description="first line to show (1-based)")
    end_line: int | None = Field(None, ge=1, description="last line to show (default: up to 400 lines)")


def number_lines(lines: list[str], first: int) -> str:
    """`  12| code` style, right-aligned to the widest number shown."""
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{n:>{width}}| {line}" for n, line in enumerate(lines, first))


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} ... [{len(line) - MAX_LINE_CHARS} more characters]"


def missing_file_error(ctx: ToolContext, path: str) -> ToolError:
    close = close_names(path, repo_files(ctx.root), limit=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Use list_files to see the files."
    return ToolError(f"file not found: {path}.{hint}")


def directory_error(ctx: ToolContext, path: str, directory: Path) -> ToolError:
    rel = ctx.relative(directory)
    inside = [f for f in repo_files(ctx.root) if rel == "." or f.startswith(rel + "/")]
    preview = ", ".join(inside[:DIRECTORY_PREVIEW]) + (" ..." if len(inside) > DIRECTORY_PREVIEW else "")
    return ToolError(f"{path} is a directory, not a file. Files in it: {preview or '(none)'}")


def readable_file(ctx: ToolContext, path: str) -> Path:
    """The resolved path of an existing text file inside the repository, or a ToolError saying why not."""
    resolved = ctx.resolve(path)
    if resolved.is_dir():
        raise directory_error(ctx, path, resolved)
    if not resolved.is_file():
        raise missing_file_error(ctx, path)
    if is_binary(resolved):
        raise ToolError(f"{path} is a binary file; only text files can be read or edited")
    return resolved


class ReadFile:
    name = "read_file"
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
