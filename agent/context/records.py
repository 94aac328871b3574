"""One file's parse result, as cached: status, symbols, references and the chunks BM25 indexes.

A chunk is the unit of lexical ranking and of packing: one whole definition (a function, a
method, a small class, a module-level assignment), the header of a big class (its lines outside
its methods), or a run of top-level lines between definitions. Files without a grammar are
chunked in windows of lines. Chunks never split a definition.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from agent.context.tags import CONTAINERS, Symbol, extract, supported
from agent.context.terms import Tokenizer
from agent.repo.languages import generated_by_content, generated_by_name, grammar_for

MAX_FILE_BYTES = 1_000_000  # bigger files are data, not code: listed, never parsed
SNIFF_BYTES = 8192
SMALL_CONTAINER_LINES = 60  # a class this short is one chunk, never split into methods
GAP_LINES = 80  # runs of top-level lines between definitions are chunked this long at most
TEXT_WINDOW = 60
MINOR_KINDS = frozenset({"variable", "field", "constant"})  # part of their container's header chunk

Range = tuple[int, int]  # first and last line, 1-based, inclusive


class Chunk(NamedTuple):
    ranges: tuple[Range, ...]
    symbol: int  # index into the file's symbols, -1 for lines between definitions


class FileRecord(NamedTuple):
    status: str  # "code" | "text" | "binary" | "large" | "generated" | "error"
    grammar: str | None
    lines: int
    size: int
    symbols: tuple[Symbol, ...]
    refs: dict[str, int]
    chunks: tuple[Chunk, ...]
    note: str  # why a file is not indexed, or that it has syntax errors


Terms = tuple[str, ...]  # per chunk, its BM25 terms space-separated (cached apart from the record)


def split_lines(text: str) -> list[str]:
    """Lines as tree-sitter numbers them: split on "\n" only (not on form feeds or U+2028)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def unindexed(status: str, size: int, note: str, lines: int = 0) -> FileRecord:
    return FileRecord(status, None, lines, size, (), {}, (), note)


def build_record(path: str, data: bytes, tokenizer: Tokenizer) -> tuple[FileRecord, Terms]:
    """Classify, parse and chunk one file's bytes. Never raises for bad content."""
    size = len(data)
    if size > MAX_FILE_BYTES:
        return unindexed("large", size, f"larger than {MAX_FILE_BYTES // 1000} kB"), ()
    if b"\0" in data[:SNIFF_BYTES]:
        return unindexed("binary", size, "binary"), ()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if generated_by_name(path) or generated_by_content(data[:600], data):
        return unindexed("generated", size, "generated or minified", lines), ()
    text = data.decode("utf-8", errors="replace")
    grammar = grammar_for(path)
    if grammar is None or not supported(grammar):
        chunks, terms = _windows(split_lines(text), tokenizer)
        return FileRecord("text", None, lines, size, (), {}, chunks, ""), terms
    try:
        tags = extract(grammar, data)
    except Exception as exc:  # a grammar crash on odd input must not stop the pack
        chunks, terms = _windows(split_lines(text), tokenizer)
        return FileRecord("error", grammar, lines, size, (), {}, chunks, f"parse failed: {exc}"), terms
    chunks, terms = _chunks(split_lines(text), tags.symbols, tokenizer)
    note = "syntax errors (partial tags)" if tags.syntax_errors else ""
    return FileRecord("code", grammar, lines, size, tags.symbols, tags.refs, chunks, note), terms


def _windows(lines: list[str], tokenizer: Tokenizer) -> tuple[tuple[Chunk, ...], Terms]:
    chunks, terms = [], []
    for first in range(0, len(lines), TEXT_WINDOW):
        block = (first + 1, min(first + TEXT_WINDOW, len(lines)))
        words = tokenizer.joined("\n".join(lines[block[0] - 1 : block[1]]))
        if words:
            chunks.append(Chunk((block,), -1))
            terms.append(words)
    return tuple(chunks), tuple(terms)


def _chunks(
    lines: list[str], symbols: tuple[Symbol, ...], tokenizer: Tokenizer
) -> tuple[tuple[Chunk, ...], Terms]:
    children: dict[int, list[int]] = {}
    for index, defined in enumerate(symbols):
        children.setdefault(defined.parent, []).append(index)
    planned: list[tuple[tuple[Range, ...], int]] = []
    for top in children.get(-1, []):
        _plan_symbol(top, symbols, children, planned)
    covered = [(symbols[i].start, symbols[i].end) for i in children.get(-1, [])]
    planned.extend(((gap,), -1) for gap in _gaps(covered, len(lines)))
    chunks, terms = [], []
    for planned_ranges, symbol in sorted(planned, key=lambda item: item[0][0]):
        ranges = tuple(r for r in planned_ranges if any(line.strip() for line in lines[r[0] - 1 : r[1]]))
        if not ranges:
            continue
        text = "\n".join("\n".join(lines[a - 1 : b]) for a, b in ranges)
        extra = symbols[symbol].qualname if symbol >= 0 else ""
        words = tokenizer.joined(f"{extra}\n{text}")
        if words:
            chunks.append(Chunk(ranges, symbol))
            terms.append(words)
    return tuple(chunks), tuple(terms)


def _plan_symbol(
    index: int,
    symbols: tuple[Symbol, ...],
    children: dict[int, list[int]],
    planned: list[tuple[tuple[Range, ...], int]],
) -> None:
    symbol = symbols[index]
    inner = [i for i in children.get(index, []) if symbols[i].kind not in MINOR_KINDS]  # fields stay
    small = symbol.end - symbol.start + 1 <= SMALL_CONTAINER_LINES
    if not inner or symbol.kind not in CONTAINERS or small:
        planned.append((((symbol.start, symbol.end),), index))
        return
    header = _subtract((symbol.start, symbol.end), [(symbols[i].start, symbols[i].end) for i in inner])
    if header:
        planned.append((tuple(header), index))
    for child in inner:
        _plan_symbol(child, symbols, children, planned)


def _subtract(whole: Range, parts: list[Range]) -> list[Range]:
    out: list[Range] = []
    cursor = whole[0]
    for start, end in sorted(parts):
        if start > cursor:
            out.append((cursor, start - 1))
        cursor = max(cursor, end + 1)
    if cursor <= whole[1]:
        out.append((cursor, whole[1]))
    return out


def _gaps(covered: list[Range], total: int) -> list[Range]:
    gaps = _subtract((1, total), covered) if total else []
    out: list[Range] = []
    for start, end in gaps:
        for first in range(start, end + 1, GAP_LINES):
            out.append((first, min(first + GAP_LINES - 1, end)))
    return out
