"""search: a regular expression over the repository's text files (ignored and binary files skipped).

The regex is the model's: it runs in a worker process (tools/regex_worker.py) with a time limit, never
in the agent's own process, where a catastrophic pattern would hang the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from pydantic import Field

from agent.repo.files import BINARY_SNIFF_BYTES
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.list_files import files_under, matches_glob

MAX_LINE_CHARS = 200
MAX_FILE_BYTES = 2_000_000  # bigger files are data, not code
SEARCH_SECONDS = 10.0  # a model's regex runs in a worker process, killed after this
WORKER = Path(__file__).with_name("regex_worker.py")


class Args(ToolArgs):
    pattern: str = Field(
        min_length=1, description="regular expression (Python syntax), e.g. 'def parse_date'"
    )
    path: str = Field(".", description="directory or file to search in")
    glob: str | None = Field(None, description="only files matching this glob, e.g. '*.py'")
    max_results: int = Field(50, ge=1, le=500, description="stop listing after this many matching lines")


def _matching_lines(ctx: ToolContext, files: list[str], pattern: str, limit: int) -> tuple[list[str], int]:
    """(the first `limit` matching lines as "path:line: text", how many lines match), found by the
    worker process (tools/regex_worker.py), which is killed after SEARCH_SECONDS."""
    request = {
        "pattern": pattern,
        "files": [[rel, str(ctx.root / rel)] for rel in files],
        "max_results": limit,
        "max_file_bytes": MAX_FILE_BYTES,
        "max_line_chars": MAX_LINE_CHARS,
        "sniff_bytes": BINARY_SNIFF_BYTES,
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", str(WORKER)],
            input=json.dumps(request),
            capture_output=True,
            encoding="utf-8",
            timeout=SEARCH_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(
            f"the search for {pattern!r} took longer than {SEARCH_SECONDS:.0f} seconds and was stopped. "
            "Nested repeats such as (a+)+ or (.*)* backtrack without end on long lines: "
            "search for a plain word or a simpler pattern"
        ) from exc
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or not lines:
        reason = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise ToolError(f"the search for {pattern!r} failed: {reason[0]}; try a simpler pattern")
    total = json.loads(lines[-1])["total"]
    return [json.loads(line) for line in lines[:-1]], int(total)


def _compile(pattern: str) -> tuple[re.Pattern[str], re.error | None]:
    """The regex, or (when it is not valid) its plain text with the reason."""
    try:
        return re.compile(pattern), None
    except re.error as exc:
        return re.compile(re.escape(pattern)), exc


class Search:
    name = "search"
    kind: ToolKind = "read"
    description = "Search the repository's files with a regex; shows path:line: text for each match."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        files = files_under(ctx, args.path)
        if args.glob:
            files = [f for f in files if matches_glob(f, args.glob)]
        regex, invalid = _compile(args.pattern)
        hits, total = _matching_lines(ctx, files, regex.pattern, args.max_results)
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
