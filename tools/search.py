"""search: a regular expression over the repository's text files (ignored and binary files skipped)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult
from tools.list_files import files_under, matches_glob
from tools.repo_files import is_binary, read_text

MAX_LINE_CHARS = 200
MAX_FILE_BYTES = 2_000_000  # bigger files are data, not code


class Args(ToolArgs):
    pattern: str = Field(
        min_length=1, description="regular expression (Python syntax), e.g. 'def parse_date'"
    )
    path: str = Field(".", description="directory or file to search in")
    glob: str | None = Field(None, description="only files matching this glob, e.g. '*.py'")
    max_results: int = Field(50, ge=1, le=500, description="stop listing after this many matching lines")


def _matching_lines(ctx: ToolContext, files: list[str], regex: re.Pattern[str]) -> Iterator[str]:
    for rel in files:
        path = ctx.root / rel
        if path.stat().st_size > MAX_FILE_BYTES or is_binary(path):
            continue
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if regex.search(line):
                yield f"{rel}:{number}: {line.strip()[:MAX_LINE_CHARS]}"


def _compile(pattern: str) -> tuple[re.Pattern[str], re.error | None]:
    """The regex, or (when it is not valid) its plain text with the reason."""
    try:
        return re.compile(pattern), None
    except re.error as exc:
        return re.compile(re.escape(pattern)), exc


class Search:
    name = "search"
    description = "Search the repository's files with a regex; shows path:line: text for each match."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        files = files_under(ctx, args.path)
        if args.glob:
            files = [f for f in files if matches_glob(f, args.glob)]
        regex, invalid = _compile(args.pattern)
        hits: list[str] = []
        total = 0
        for hit in _matching_lines(ctx, files, regex):
            total += 1
            if len(hits) < args.max_results:
                hits.append(hit)
        if not hits and invalid:
            raise ToolError(
                f"invalid regular expression {args.pattern!r}: {invalid}. "
                "Escape special characters like ( [ . * with a backslash."
            )
        if not hits:
            return ToolResult(output=f"no match for {args.pattern!r}", data={"count": 0})
        note = f"(not a valid regex: {invalid}; searched for the plain text instead)\n" if invalid else ""
        more = f"\n[{total - len(hits)} more matches not shown: narrow the pattern, path or glob]"
        return ToolResult(
            output=note + "\n".join(hits) + (more if total > len(hits) else ""),
            data={"count": total, "shown": len(hits)},
        )


TOOL = Search()
