"""The pack as text: a header, a map of ranked definitions, then the code blocks.

Code is verbatim (no line numbers: a model copies exact text into edits); each block's title
gives its line ranges, and a `⋮` line stands for the lines skipped between two ranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from agent.context.index import RepoIndex
from agent.context.rank import Ranking
from agent.context.records import MINOR_KINDS
from agent.context.select import Pick, ranges_of
from agent.context.sources import Sources
from agent.context.tags import Symbol

GAP = "⋮"
_BACKTICK_RUN = re.compile(r"`{3,}")
MAP_SYMBOLS_PER_FILE = 8


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside (Markdown's own rule)."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def describe_ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in ranges)


def render_block(index: RepoIndex, sources: Sources, pick: Pick) -> str:
    file = index.files[pick.file]
    lines = sources.lines(file.path)
    ranges = ranges_of(index, pick)
    if pick.full:
        title = f"{file.path} (whole file, {len(lines)} lines)"
        body = "\n".join(lines)
    else:
        title = f"{file.path} (lines {describe_ranges(ranges)} of {len(lines)})"
        body = f"\n{GAP}\n".join("\n".join(lines[a - 1 : b]) for a, b in ranges)
    fence = _fence(body)
    language = file.record.grammar or ""
    return f"### {title}\n{fence}{language}\n{body}\n{fence}"


@dataclass
class MapEntry:
    file: int
    lines: list[str]

    def text(self, path: str) -> str:
        return "\n".join([path, *self.lines])


def _depth(symbols: tuple[Symbol, ...], index: int) -> int:
    depth, parent = 0, symbols[index].parent
    while parent >= 0:
        depth, parent = depth + 1, symbols[parent].parent
    return depth


def map_entry(index: RepoIndex, ranking: Ranking, fi: int, shown: set[int], limit: int) -> MapEntry | None:
    """The file's best-ranked definitions not already shown as code, with their enclosing ones."""
    record = index.files[fi].record
    if not record.symbols:
        return None
    scored = []
    for si, symbol in enumerate(record.symbols):
        chunk = ranking.symbol_chunk.get((fi, si))
        score = float(ranking.chunk_score[chunk]) if chunk is not None else 0.0
        if symbol.kind in MINOR_KINDS:
            score *= 0.5
        scored.append((score, -symbol.start, si))
    best = [si for score, _, si in sorted(scored, reverse=True)[:limit] if si not in shown]
    if not best:
        return None
    keep = set(best)
    for si in best:
        parent = record.symbols[si].parent
        while parent >= 0:
            keep.add(parent)
            parent = record.symbols[parent].parent
    width = len(str(record.lines))
    symbols = record.symbols
    lines = [
        f"{symbols[si].head:>{width}}: {'  ' * _depth(symbols, si)}{symbols[si].signature}"
        for si in sorted(keep, key=lambda s: symbols[s].start)
    ]
    return MapEntry(fi, lines)


def shown_symbols(index: RepoIndex, pick: Pick) -> set[int]:
    """Symbols whose whole code a pick shows."""
    record = index.files[pick.file].record
    if pick.full:
        return set(range(len(record.symbols)))
    ranges = ranges_of(index, pick)
    return {si for si, s in enumerate(record.symbols) if any(a <= s.start and s.end <= b for a, b in ranges)}


def render_map(index: RepoIndex, entries: list[MapEntry]) -> str:
    if not entries:
        return ""
    body = "\n".join(e.text(index.files[e.file].path) for e in entries)
    return f"## Map: ranked definitions (line: signature)\n{body}"


def render_header(
    budget: int, full: int, snippets: int, tests: int, mapped: int, left_out: int, total_files: int
) -> str:
    shown = [_count(full, "file") + " in full"] if full else []
    if snippets:
        shown.append(f"excerpts (whole definitions) of {_count(snippets, 'file')}")
    if tests:
        shown.append(_count(tests, "related test file"))
    lines = [f"## Repository context (selected by relevance to the issue; at most {budget:,} tokens)"]
    if shown:
        mapped_note = f"; the map lists definitions in {_count(mapped, 'more file')}" if mapped else ""
        lines.append(f"Shown: {', '.join(shown)}{mapped_note}.")
    if snippets:
        lines.append(f"Excerpt titles give their line ranges; {GAP} marks skipped lines.")
    lines.append(
        f"Left out: {left_out} of the repository's {total_files} files "
        "(list_files, search, read_file and find_symbol reach everything)."
    )
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def assemble(header: str, map_text: str, blocks: list[str]) -> str:
    return "\n\n".join(part for part in [header, map_text, *blocks] if part)


def top_files(ranking: Ranking, floor: float, limit: int) -> list[int]:
    order = ranking.files_by_score()
    if not order:
        return []
    top = float(np.max(ranking.file_score))
    return [fi for fi in order if ranking.file_score[fi] >= floor * top][:limit]
