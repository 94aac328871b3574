"""search: a regular expression over the repository's text files."""

from __future__ import annotations

import fnmatch
import re

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.repo_files import is_binary, read_text, repo_files

MAX_LINE_CHARS = 200


class Args(ToolArgs):
    pattern: str = Field(description="regular expression (Python syntax), e.g. 'def parse_date'")
    path: str = Field(".", description="directory or file to search in")
    glob: str | None = Field(None, description="only files matching this glob, e.g. '*.py'")
    max_results: int = Field(50, ge=1, le=500, description="stop after this many matching lines")


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        try:
            return re.compile(re.escape(pattern))
        except re.error:
            raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from exc


class Search:
    name = "search"
    description = "Search the repository's files with a regex; shows path:line: text for each match."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        regex = _compile(args.pattern)
        base = ctx.resolve(args.path)
        scope = ctx.relative(base) if base != ctx.root.resolve() else ""
        hits: list[str] = []
        total = 0
        for rel in repo_files(ctx.root):
            if scope and rel != scope and not rel.startswith(scope + "/"):
                continue
            if args.glob and not (
                fnmatch.fnmatch(rel, args.glob) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], args.glob)
            ):
                continue
            path = ctx.root / rel
            if is_binary(path):
                continue
            for number, line in enumerate(read_text(path).splitlines(), 1):
                if regex.search(line):
                    total += 1
                    if len(hits) < args.max_results:
                        hits.append(f"{rel}:{number}: {line.strip()[:MAX_LINE_CHARS]}")
        if not hits:
            return ToolResult(output=f"no match for {args.pattern!r}", data={"count": 0})
        more = f"\n[{total - len(hits)} more matches not shown]" if total > len(hits) else ""
        return ToolResult(output="\n".join(hits) + more, data={"count": total})


TOOL = Search()
