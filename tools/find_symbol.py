"""find_symbol: where a function, class, method or variable is defined, from the repository index.

Each definition comes with its path, line range, kind, signature and first lines; with
`references` the lines that use the name follow. The index is the one the initial context was
packed from (parses cached in the git directory), refreshed for files edited since.
"""

from __future__ import annotations

import textwrap

from pydantic import Field

from agent.context.index import load_index
from agent.context.lookup import find_definitions, find_references, similar_names
from agent.context.sources import Sources
from agent.repo.dirs import cache_dir_for
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult

MAX_DEFINITIONS = 8
PREVIEW_LINES = 6
MAX_REFERENCES = 20


class Args(ToolArgs):
    name: str = Field(min_length=1, description="name to look up, e.g. 'parse_date' or 'Parser.parse'")
    references: bool = Field(False, description="also list the lines that use it")


class FindSymbol:
    name = "find_symbol"
    kind: ToolKind = "read"
    description = "Find where a function, class or variable is defined: path, lines, signature."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        index = load_index(ctx.root, cache_dir_for(ctx.root))
        sources = Sources(ctx.root)
        found = find_definitions(index, args.name)
        if not found:
            close = similar_names(index, args.name)
            hint = f" Similar names: {', '.join(close)}." if close else " Try search with a regex."
            raise ToolError(f"no definition of {args.name!r} in the repository.{hint}")
        blocks = []
        for definition in found[:MAX_DEFINITIONS]:
            symbol = definition.symbol
            last = min(symbol.end, symbol.head + PREVIEW_LINES - 1)
            preview = textwrap.dedent("\n".join(sources.lines(definition.path)[symbol.head - 1 : last]))
            more = "\n    ..." if symbol.end > last else ""
            title = f"{definition.path}:{symbol.start}-{symbol.end} {symbol.kind} {symbol.qualname}"
            blocks.append(title + "\n" + textwrap.indent(preview, "    ") + more)
        if len(found) > MAX_DEFINITIONS:
            blocks.append(
                f"[{len(found) - MAX_DEFINITIONS} more definitions: qualify the name, e.g. Class.method]"
            )
        output = "\n\n".join(blocks)
        data: dict[str, object] = {"definitions": [f"{d.path}:{d.symbol.start}" for d in found]}
        if args.references:
            refs = find_references(index, sources, args.name, MAX_REFERENCES)
            listed = "\n".join(f"{r.path}:{r.line}: {r.text[:160]}" for r in refs) or "(no uses found)"
            output += f"\n\nUsed at:\n{listed}"
            data["references"] = len(refs)
        return ToolResult(output=output, data=data)


TOOL = FindSymbol()
