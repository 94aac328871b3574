"""The repository index: every listed file with its cached parse, plus derived lookups.

Building it stats every file, reads and hashes only those whose stat changed, and parses only
contents the cache has never seen (in worker processes when there is a lot to parse), reporting
the bytes parsed so far to a `Progress`. The BM25 index and the reference graph are derived lazily
and cached for one exact set of file contents.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from agent.context.cache import ParseCache, version
from agent.context.records import MAX_FILE_BYTES, FileRecord, Terms, build_record, digest, unindexed
from agent.context.terms import Tokenizer
from agent.context.walk import Entry, walk
from agent.context.workers import Parsed, parse_in_workers
from agent.progress import Progress, no_progress
from agent.repo.languages import is_doc_path, is_test_path

if TYPE_CHECKING:
    from agent.context.graph import RefGraph
    from agent.context.lexical import LexicalIndex

T = TypeVar("T")
PARALLEL_BYTES = 3_000_000  # parse in worker processes above this much new content
MAX_WORKERS = 4
CHUNK_FILES = 64  # in-process parsing reports progress after this many files...
CHUNK_BYTES = 256_000  # ...or this many bytes, whichever comes first


@dataclass
class IndexedFile:
    path: str
    digest: str
    record: FileRecord
    test: bool
    doc: bool


@dataclass
class IndexStats:
    files: int = 0
    parsed: int = 0
    reused: int = 0
    symlinks: int = 0
    undecodable: int = 0  # file names that are not valid UTF-8, skipped
    workers: int = 0
    seconds: float = 0.0


Definitions = dict[str, list[tuple[int, int]]]  # name -> (file index, symbol index)


class NameTable:
    """Definition names folded (`get_help_record` -> `gethelprecord`), sorted for prefix and suffix
    lookups of phrases an issue writes out in words."""

    def __init__(self, definitions: Definitions) -> None:
        self.by_folded: dict[str, list[str]] = {}
        for name in definitions:
            folded = name.lower().replace("_", "")
            if len(folded) >= 4:
                self.by_folded.setdefault(folded, []).append(name)
        self.forward = sorted(self.by_folded)
        self.backward = sorted(f[::-1] for f in self.by_folded)

    def matching(self, phrase: str) -> list[str]:
        """Names equal to the phrase, or starting or ending with it."""
        found = set(_with_prefix(self.forward, phrase))
        found.update(f[::-1] for f in _with_prefix(self.backward, phrase[::-1]))
        return [name for folded in sorted(found) for name in self.by_folded[folded]]


def _with_prefix(ordered: list[str], prefix: str) -> list[str]:
    out = []
    for index in range(bisect.bisect_left(ordered, prefix), len(ordered)):
        if not ordered[index].startswith(prefix):
            break
        out.append(ordered[index])
    return out


@dataclass
class RepoIndex:
    root: Path
    files: list[IndexedFile]
    cache: ParseCache
    stats: IndexStats = field(default_factory=IndexStats)

    @cached_property
    def fingerprint(self) -> str:
        joined = "\n".join(f"{f.path}\0{f.digest}" for f in self.files)
        return hashlib.blake2b(f"{version()}\n{joined}".encode(), digest_size=16).hexdigest()

    @cached_property
    def definitions(self) -> Definitions:
        table: Definitions = {}
        for fi, file in enumerate(self.files):
            for si, symbol in enumerate(file.record.symbols):
                table.setdefault(symbol.name, []).append((fi, si))
        return table

    @cached_property
    def names(self) -> NameTable:
        return NameTable(self.definitions)

    @cached_property
    def lexical(self) -> LexicalIndex:
        from agent.context.lexical import build_lexical

        return self._derived(
            "lexical", lambda: build_lexical(self.files, [self.terms(f) for f in self.files])
        )

    def terms(self, file: IndexedFile) -> Terms:
        """A file's chunk terms, from the cache (or parsed again if the cache lost them)."""
        if not file.record.chunks:
            return ()
        terms = self.cache.terms(file.digest)
        if terms is None or len(terms) != len(file.record.chunks):
            parsed = parse_batch(str(self.root), [file.path])
            terms = (
                parsed[0][3] if parsed and parsed[0][1] == file.digest else ("",) * len(file.record.chunks)
            )
        return terms

    @cached_property
    def graph(self) -> RefGraph:
        from agent.context.graph import build_graph

        return self._derived("graph", lambda: build_graph(self.files, self.definitions))

    def _derived(self, name: str, build: Callable[[], T]) -> T:
        cached = self.cache.load_derived(name, self.fingerprint)
        if cached is not None:
            return cast(T, cached)
        value = build()
        self.cache.save_derived(name, self.fingerprint, value)
        return value


def load_index(
    root: Path,
    cache_dir: Path | None,
    workers: int | None = None,
    parallel_bytes: int = PARALLEL_BYTES,
    progress: Progress | None = None,
) -> RepoIndex:
    """Index `root` (a git work tree or a plain directory), reusing `cache_dir`'s parses.

    New content is parsed in `workers` processes (default: one per CPU, at most 4) when there
    is more than `parallel_bytes` of it. `progress` hears `(bytes parsed, bytes to parse)` as
    the parsing goes, from `(0, total)` to `(total, total)`; nothing when nothing is new."""
    started = time.monotonic()
    listing = walk(root)
    cache = ParseCache(cache_dir, root)
    found: dict[str, tuple[str, FileRecord]] = {}
    unknown: list[Entry] = []
    for entry in listing.entries:
        cached = _cached(cache, entry)
        if cached is not None:
            found[entry.path] = cached
        else:
            unknown.append(entry)
    new = _hash_unknown(root, cache, unknown, found)
    stats = IndexStats(
        files=len(listing.entries), symlinks=len(listing.symlinks), undecodable=len(listing.undecodable)
    )
    stats.workers = _parse_new(root, cache, new, found, workers, parallel_bytes, progress or no_progress)
    stats.parsed, stats.reused = len(new), len(found) - len(new)
    cache.save({e.path for e in listing.entries})
    files = [
        IndexedFile(path, d, record, is_test_path(path), is_doc_path(path))
        for path, (d, record) in sorted(found.items())
    ]
    stats.seconds = round(time.monotonic() - started, 3)
    return RepoIndex(root=root, files=files, cache=cache, stats=stats)


def _cached(cache: ParseCache, entry: Entry) -> tuple[str, FileRecord] | None:
    size = entry.key[0]
    if size > MAX_FILE_BYTES:  # never read
        return f"large:{size}", unindexed("large", size, f"larger than {MAX_FILE_BYTES // 1000} kB")
    known = cache.digest_for(entry.path, entry.key)
    record = cache.record(known) if known is not None else None
    return (known, record) if known is not None and record is not None else None


def _hash_unknown(
    root: Path, cache: ParseCache, entries: list[Entry], found: dict[str, tuple[str, FileRecord]]
) -> list[Entry]:
    """Contents seen before under another stat (a fresh worktree) are reused; the rest is new."""
    new: list[Entry] = []
    for entry in entries:
        try:
            data = (root / entry.path).read_bytes()
        except OSError:
            continue
        known = digest(data)
        cache.remember_stat(entry.path, entry.key, known)
        record = cache.record(known)
        if record is not None:
            found[entry.path] = (known, record)
        else:
            new.append(entry)
    return new


def parse_batch(root: str, paths: list[str], tokenizer: Tokenizer | None = None) -> Parsed:
    """Worker entry point: read, hash and parse files (also run in-process for small jobs, chunk
    by chunk, sharing one `tokenizer` and its memory of how names split)."""
    tokenizer = tokenizer or Tokenizer()
    out: Parsed = []
    for rel in paths:
        try:
            data = Path(root, rel).read_bytes()
        except OSError:
            continue
        record, terms = build_record(rel, data, tokenizer)
        out.append((rel, digest(data), record, terms))
    return out


def _parse_new(
    root: Path,
    cache: ParseCache,
    entries: list[Entry],
    found: dict[str, tuple[str, FileRecord]],
    workers: int | None,
    parallel_bytes: int,
    progress: Progress,
) -> int:
    """Parse `entries` into `found` and the cache; returns the number of worker processes used."""
    sizes = {e.path: e.key[0] for e in entries}
    total = sum(sizes.values())
    count = workers if workers is not None else min(MAX_WORKERS, _cpus())
    batches = _batches(entries, count)
    counter = _ByteCounter(sizes, total, progress)
    if total < parallel_bytes or len(batches) <= 1:
        results: Parsed = []
        tokenizer = Tokenizer()
        for chunk in _chunks(entries):
            results += parse_batch(str(root), chunk, tokenizer)
            counter.collected(chunk)
        count = 0
    else:
        results = parse_in_workers(str(root), batches, parse_batch, collected=counter.collected)
    keys = {e.path: e.key for e in entries}
    for rel, known, record, terms in results:
        cache.put(known, record, terms)
        cache.remember_stat(rel, keys[rel], known)
        found[rel] = (known, record)
    return count


class _ByteCounter:
    """Tells `progress` that parsing starts, then adds up the bytes of each batch parsed (stat
    sizes, as in the total). Silent when there are no bytes to parse."""

    def __init__(self, sizes: dict[str, int], total: int, progress: Progress) -> None:
        self.sizes = sizes
        self.total = total
        self.done = 0
        self.progress = progress if total > 0 else no_progress
        self.progress(0, total)

    def collected(self, paths: list[str]) -> None:
        self.done += sum(self.sizes[p] for p in paths)
        self.progress(self.done, self.total)


def _chunks(entries: list[Entry]) -> list[list[str]]:
    """Paths in order, in chunks of at most `CHUNK_FILES` files or about `CHUNK_BYTES` bytes."""
    chunks: list[list[str]] = []
    current: list[str] = []
    weight = 0
    for entry in entries:
        if current and (len(current) >= CHUNK_FILES or weight + entry.key[0] > CHUNK_BYTES):
            chunks.append(current)
            current, weight = [], 0
        current.append(entry.path)
        weight += entry.key[0]
    if current:
        chunks.append(current)
    return chunks


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _batches(entries: list[Entry], count: int) -> list[list[str]]:
    """Paths in `count` batches of about equal bytes (largest files first, to the lightest batch)."""
    batches: list[list[str]] = [[] for _ in range(max(1, count))]
    weights = [0] * len(batches)
    for entry in sorted(entries, key=lambda e: -e.key[0]):
        lightest = weights.index(min(weights))
        batches[lightest].append(entry.path)
        weights[lightest] += entry.key[0]
    return [b for b in batches if b]
