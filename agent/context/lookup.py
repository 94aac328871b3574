"""Looking a symbol up by name in the repository index (the `find_symbol` tool's engine).

`parse_date`, `Parser.parse`, `click.Option` and `pkg/mod.py::Class.method` all work: an
exact qualified name wins, then a qualified-name suffix (`Option.get_help_record` for
`click.core.Option.get_help_record`), then the bare name, then the same name in another case.
"""

from __future__ import annotations

import difflib
import re
from typing import NamedTuple

from agent.context.index import RepoIndex
from agent.context.sources import Sources
from agent.context.tags import Symbol


class Definition(NamedTuple):
    path: str
    symbol: Symbol


class Reference(NamedTuple):
    path: str
    line: int
    text: str


def _candidates(index: RepoIndex, name: str) -> list[Definition]:
    return [
        Definition(index.files[fi].path, index.files[fi].record.symbols[si])
        for fi, si in index.definitions.get(name, [])
    ]


def find_definitions(index: RepoIndex, query: str) -> list[Definition]:
    path, _, wanted = query.strip().rpartition("::")
    parts = [p for p in re.split(r"[.:#]+", wanted) if p]
    if not parts:
        return []
    found = _candidates(index, parts[-1])
    if path:
        found = [d for d in found if d.path == path or d.path.endswith("/" + path)] or found
    for size in range(len(parts), 1, -1):  # the longest qualified tail that matches
        tail = ".".join(parts[-size:])
        exact = [d for d in found if d.symbol.qualname == tail or d.symbol.qualname.endswith("." + tail)]
        if exact:
            return exact
    if found:
        return sorted(found, key=lambda d: (d.symbol.parent >= 0, d.path))
    folded = parts[-1].lower()
    return [d for name in index.definitions if name.lower() == folded for d in _candidates(index, name)]


def similar_names(index: RepoIndex, query: str, limit: int = 5) -> list[str]:
    name = re.split(r"[.:#]+", query.strip())[-1]
    return difflib.get_close_matches(name, list(index.definitions), n=limit, cutoff=0.75)


def find_references(index: RepoIndex, sources: Sources, name: str, limit: int) -> list[Reference]:
    """Lines that use `name` (as a whole word) in the files that refer to it."""
    bare = re.split(r"[.:#]+", name.strip())[-1]
    word = re.compile(rf"\b{re.escape(bare)}\b")
    found: list[Reference] = []
    for file in index.files:
        if bare not in file.record.refs:
            continue
        defined = {s.head for s in file.record.symbols if s.name == bare}
        for number, line in enumerate(sources.lines(file.path), 1):
            if number not in defined and word.search(line):
                found.append(Reference(file.path, number, line.strip()))
                if len(found) >= limit:
                    return found
    return found
