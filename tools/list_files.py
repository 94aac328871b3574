"""list_files: the repository's files (honouring .gitignore), optionally filtered by a glob."""

from __future__ import annotations

import fnmatch

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.repo_files import repo_files

MAX_ENTRIES = 300


class Args(ToolArgs):
    path: str = Field(".", description="directory relative to the repository root")
    pattern: str | None = Field(None, description="glob on the path, e.g. '*.py' or 'tests/*'")


class ListFiles:
    name = "list_files"
    description = "List the repository's files under a directory (ignored files are skipped)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        base = ctx.resolve(args.path)
        if not base.is_dir():
            raise ToolError(f"{args.path} is not a directory")
        prefix = "" if base == ctx.root.resolve() else ctx.relative(base) + "/"
        files = [f for f in repo_files(ctx.root) if f.startswith(prefix)]
        if args.pattern:
            files = [
                f
                for f in files
                if fnmatch.fnmatch(f, args.pattern) or fnmatch.fnmatch(f.rsplit("/", 1)[-1], args.pattern)
            ]
        shown = files[:MAX_ENTRIES]
        more = (
            f"\n[{len(files) - MAX_ENTRIES} more files: narrow with path or pattern]"
            if len(files) > MAX_ENTRIES
            else ""
        )
        output = "\n".join(shown) + more if files else "no files match"
        return ToolResult(output=output, data={"count": len(files), "files": shown})


TOOL = ListFiles()
