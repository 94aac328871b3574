"""list_files: the repository's files (honouring .gitignore), optionally filtered by a glob."""

from __future__ import annotations

import fnmatch
from typing import ClassVar

from pydantic import Field

from agent.repo.files import close_names, repo_files, repo_listing
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.grounding import Ground

MAX_ENTRIES = 300


class Args(ToolArgs):
    path: str = Field(".", description="directory relative to the repository root")
    pattern: str | None = Field(None, description="glob on the file path or name, e.g. '*.py' or 'tests/*'")


def matches_glob(rel: str, pattern: str) -> bool:
    """A glob matches the whole relative path or just the file name."""
    return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern)


def files_under(ctx: ToolContext, path: str, files: list[str] | None = None) -> list[str]:
    """Repository files inside `path` (a directory or a single file), or a ToolError."""
    base = ctx.resolve(path)
    files = repo_files(ctx.root) if files is None else files
    if base.is_file():
        rel = ctx.relative(base)
        return [rel] if rel in files else []
    if not base.is_dir():
        dirs = sorted({f.rsplit("/", n)[0] for f in files for n in range(1, f.count("/") + 1)})
        close = close_names(path, dirs, limit=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ToolError(f"no such directory: {path}.{hint}")
    rel = ctx.relative(base)
    return files if rel == "." else [f for f in files if f.startswith(rel + "/")]


class ListFiles:
    name = "list_files"
    kind: ToolKind = "read"
    description = "List the repository's files under a directory (ignored files are skipped)."
    args_model = Args
    grounds: ClassVar[dict[str, Ground]] = {"path": Ground.DIRECTORY}  # tools/grounding.py

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        listing = repo_listing(ctx.root)
        files = files_under(ctx, args.path, listing.files)
        if args.pattern:
            files = [f for f in files if matches_glob(f, args.pattern)]
        shown = files[:MAX_ENTRIES]
        more = (
            f"\n[{len(files) - MAX_ENTRIES} more files: narrow with path or pattern]"
            if len(files) > MAX_ENTRIES
            else ""
        )
        output = "\n".join(shown) + more if files else "no files match"
        data: dict[str, object] = {"count": len(files), "files": shown}
        if listing.undecodable:
            data["undecodable"] = listing.undecodable
            output += _undecodable_note(listing.undecodable)
        return ToolResult(output=output, data=data)


def _undecodable_note(names: list[str]) -> str:
    many = len(names) > 1
    return (
        f"\n[{len(names)} file{'s whose names are' if many else ' whose name is'} not valid UTF-8 "
        f"{'are' if many else 'is'} not listed: {', '.join(names[:20])}; the file tools cannot open "
        f"{'them' if many else 'it'}, shell commands can]"
    )


TOOL = ListFiles()
