"""The on-disk parse cache, in `<git-common-dir>/.agent/cache/context/`.

- `records.pkl`: parse results keyed by content digest (shared by every worktree of the repo,
  so the agent's fresh worktree reuses the user's checkout's parses).
- `terms.pkl`: the chunks' BM25 terms by digest: the bulk of the data, read only when the BM25
  index has to be rebuilt.
- `stat-<root>.pkl`: per work tree, path -> (size, mtime_ns, inode, digest), so a warm run
  reads no unchanged file at all.
- `index-*.pkl`: derived data (the BM25 index, the reference graph) for one exact set of files.

Pickle is safe here: the files live in the git directory, which only the user writes (anyone who
can write there can already install git hooks). A corrupt or outdated file is ignored and rebuilt.
Records unused for `KEEP_GENERATIONS` saves are pruned.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from agent.context.records import FileRecord, Terms

FORMAT = 1  # bump when the cache files' layout changes
KEEP_GENERATIONS = 20
STAT_FILE_DAYS = 14  # stat files of work trees not seen for this long (old agent worktrees) go
StatKey = tuple[int, int, int]  # size, mtime_ns, inode


@cache
def version() -> str:
    """The format plus a digest of everything a record depends on: the parsing code, the queries
    and the grammar package. Editing any of them invalidates the cache by itself."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from agent.context import graph, lexical, records, tags, terms
    from agent.repo import languages

    digest = hashlib.blake2b(digest_size=8)
    for module in (graph, languages, lexical, records, tags, terms):
        digest.update(Path(module.__file__ or "").read_bytes())
    for query in sorted(resources.files("agent.context").joinpath("queries").iterdir(), key=str):
        digest.update(query.read_bytes())
    with contextlib.suppress(PackageNotFoundError):
        digest.update(package_version("tree-sitter-language-pack").encode())
    return f"{FORMAT}-{digest.hexdigest()}"


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            data = pickle.load(handle)
    except Exception:  # unreadable, truncated, or written by another version: rebuilt
        return None
    return data if isinstance(data, dict) and data.get("version") == version() else None


def _write(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump({"version": version(), **payload}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_old_stat_files(directory: Path) -> None:
    cutoff = time.time() - STAT_FILE_DAYS * 86400
    for path in directory.glob("stat-*.pkl"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


class ParseCache:
    """Records by digest and digests by stat, for one work tree. `directory=None`: memory only."""

    def __init__(self, directory: Path | None, root: Path) -> None:
        self.directory = directory
        self._root_key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
        self._records: dict[str, tuple[int, FileRecord]] = {}
        self._terms: dict[str, Terms] | None = None  # loaded on first use
        self._new_terms: dict[str, Terms] = {}
        self._stats: dict[str, tuple[StatKey, str]] = {}
        self._generation = 0
        self._used: set[str] = set()
        self._dirty = False
        self._stats_dirty = False
        if directory is not None:
            self._load(directory)

    def _load(self, directory: Path) -> None:
        records = _read(directory / "records.pkl")
        if records is not None:
            self._records = records["records"]
            self._generation = records["generation"]
        stats = _read(directory / f"stat-{self._root_key}.pkl")
        if stats is not None:
            self._stats = stats["stats"]

    def digest_for(self, path: str, key: StatKey) -> str | None:
        entry = self._stats.get(path)
        return entry[1] if entry is not None and entry[0] == key else None

    def remember_stat(self, path: str, key: StatKey, digest: str) -> None:
        if self._stats.get(path) != (key, digest):
            self._stats[path] = (key, digest)
            self._stats_dirty = True

    def record(self, digest: str) -> FileRecord | None:
        entry = self._records.get(digest)
        if entry is None:
            return None
        self._used.add(digest)
        return entry[1]

    def put(self, digest: str, record: FileRecord, terms: Terms) -> None:
        self._records[digest] = (self._generation + 1, record)
        self._new_terms[digest] = terms
        self._used.add(digest)
        self._dirty = True

    def terms(self, digest: str) -> Terms | None:
        if digest in self._new_terms:
            return self._new_terms[digest]
        return self._all_terms().get(digest)

    def _all_terms(self) -> dict[str, Terms]:
        if self._terms is None:
            data = _read(self.directory / "terms.pkl") if self.directory is not None else None
            self._terms = data["terms"] if data is not None else {}
        return self._terms

    def save(self, present: set[str]) -> None:
        """Persist what changed; forget stats of vanished paths and records long unused."""
        if self.directory is None:
            return
        vanished = set(self._stats) - present
        for path in vanished:
            del self._stats[path]
        if self._stats_dirty or vanished:
            _write(self.directory / f"stat-{self._root_key}.pkl", {"stats": self._stats})
            _remove_old_stat_files(self.directory)
        stale = [d for d, (gen, _) in self._records.items() if self._generation - gen > KEEP_GENERATIONS]
        if not (self._dirty or stale):
            return
        generation = self._generation + 1
        kept = {d: (generation if d in self._used else gen, rec) for d, (gen, rec) in self._records.items()}
        for old in stale:
            if old not in self._used:
                kept.pop(old, None)
        terms = {d: t for d, t in {**self._all_terms(), **self._new_terms}.items() if d in kept}
        _write(self.directory / "terms.pkl", {"terms": terms})
        _write(self.directory / "records.pkl", {"records": kept, "generation": generation})
        self._records, self._generation, self._dirty = kept, generation, False
        self._terms, self._new_terms = terms, {}

    def load_derived(self, name: str, fingerprint: str) -> Any:
        if self.directory is None:
            return None
        data = _read(self.directory / f"{name}.pkl")
        return data["value"] if data is not None and data.get("fingerprint") == fingerprint else None

    def save_derived(self, name: str, fingerprint: str, value: Any) -> None:
        if self.directory is not None:
            _write(self.directory / f"{name}.pkl", {"fingerprint": fingerprint, "value": value})
