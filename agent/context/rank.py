"""Relevance of every chunk and file to an issue.

A chunk scores by BM25 on the issue's words (normalised to the best chunk), plus the issue's
code names it defines (weighted by how rare the definition is, more for a qualified match such
as `Path.convert`), plus stack frames that name it, plus error messages found in it verbatim.
A file scores by its best chunks, its path (mentioned, in a frame, or sharing the issue's
words), and then by personalised PageRank over the reference graph restarted at those scores,
so code the relevant files lean on moves up. Tests, docs and other text count for less here:
tests come along with the source they exercise when the pack is assembled.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from agent.context.graph import personalized_pagerank
from agent.context.index import RepoIndex
from agent.context.issue import IssueQuery
from agent.context.sources import Sources

IDENTIFIER_WEIGHT = 0.6
QUALIFIED_BONUS = 1.0
PHRASE_PARTIAL = 0.7  # a phrase that is only the start or the end of a name
MAX_PHRASE_NAMES = 6
FRAME_BONUS = 2.0
PATH_BONUS = 2.0
PATH_TERMS_WEIGHT = 0.3
LITERAL_BONUS = 0.8
LITERAL_CANDIDATES = 300  # chunks checked for verbatim messages
GRAPH_WEIGHT = 0.35
CHUNK_TOP_WEIGHTS = (1.0, 0.5, 0.25)  # a file's score from its best three chunks
CATEGORY_FACTOR = {"test": 0.45, "doc": 0.3, "text": 0.5, "code": 1.0}


@dataclass
class Ranking:
    file_score: np.ndarray  # per file, in [0, ~1.4]
    chunk_score: np.ndarray  # per chunk of the lexical index
    offsets: np.ndarray  # first chunk index of each file
    symbol_chunk: dict[tuple[int, int], int] = field(default_factory=dict)  # (file, symbol) -> chunk
    reasons: dict[int, list[str]] = field(default_factory=dict)

    def files_by_score(self) -> list[int]:
        order = np.argsort(-self.file_score, kind="stable")
        return [int(i) for i in order if self.file_score[i] > 0]

    def chunk_of(self, file: int, local: int) -> int:
        return int(self.offsets[file]) + local


def category(index: RepoIndex, fi: int) -> str:
    file = index.files[fi]
    if file.test:
        return "test"
    if file.doc:
        return "doc"
    return "code" if file.record.status == "code" else "text"


def _symbol_chunks(index: RepoIndex, offsets: np.ndarray) -> dict[tuple[int, int], int]:
    """(file, symbol) -> the chunk showing it: its own, or its enclosing symbol's."""
    table: dict[tuple[int, int], int] = {}
    for fi, file in enumerate(index.files):
        own = {chunk.symbol: ci for ci, chunk in enumerate(file.record.chunks) if chunk.symbol >= 0}
        for si in range(len(file.record.symbols)):
            current = si
            while current >= 0 and current not in own:
                current = file.record.symbols[current].parent
            if current >= 0:
                table[(fi, si)] = int(offsets[fi]) + own[current]
    return table


def _suffix_matches(index: RepoIndex, written: str) -> list[int]:
    """Files whose path ends with the longest tail of `written` (e.g. a site-packages path)."""
    parts = [p for p in written.replace("\\", "/").split("/") if p not in ("", ".")]
    for start in range(len(parts)):
        tail = "/".join(parts[start:])
        found = [fi for fi, f in enumerate(index.files) if f.path == tail or f.path.endswith("/" + tail)]
        if found:
            return found
    return []


class _Scorer:
    def __init__(self, index: RepoIndex, query: IssueQuery) -> None:
        self.index = index
        self.query = query
        counts = [len(f.record.chunks) for f in index.files]
        self.offsets = (
            np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if counts else np.zeros(0)
        )
        self.symbol_chunk = _symbol_chunks(index, self.offsets)
        self.reasons: dict[int, list[str]] = {}
        self.category = np.array([CATEGORY_FACTOR[category(index, fi)] for fi in range(len(index.files))])
        bm = index.lexical.chunk_scores(query.terms).astype(np.float64)
        self.chunk = bm / _reference(bm, self.category[index.lexical.chunk_file] >= 1.0)
        self.file_bonus = np.zeros(len(index.files))

    def note(self, fi: int, reason: str) -> None:
        bucket = self.reasons.setdefault(fi, [])
        if reason not in bucket and len(bucket) < 6:
            bucket.append(reason)

    def identifiers(self) -> None:
        definitions = self.index.definitions
        for name, weight in self.query.identifiers.items():
            places = definitions.get(name, [])
            rarity = 1.0 / (1.0 + math.log(len(places))) if places else 0.0
            for fi, si in places:
                chunk = self.symbol_chunk.get((fi, si))
                if chunk is not None:
                    self.chunk[chunk] += IDENTIFIER_WEIGHT * weight * rarity
                    self.note(fi, f"defines {name}")
        for phrase in self.query.phrases:
            for name in self.index.names.matching(phrase)[:MAX_PHRASE_NAMES]:
                places = definitions[name]
                exact = name.lower().replace("_", "") == phrase
                rarity = 1.0 / (1.0 + math.log(len(places)))
                for fi, si in places:
                    chunk = self.symbol_chunk.get((fi, si))
                    if chunk is not None:
                        self.chunk[chunk] += IDENTIFIER_WEIGHT * (1.0 if exact else PHRASE_PARTIAL) * rarity
                        self.note(fi, f"defines {name}")
        for chain in self.query.dotted:
            for owner, member in itertools.pairwise(chain):
                self._qualified(owner, member)

    def _qualified(self, owner: str, member: str) -> None:
        """`Path.convert`: the method of that class; `click.Option`: Option defined under click/."""
        for fi, si in self.index.definitions.get(member, []):
            file = self.index.files[fi]
            qualname = file.record.symbols[si].qualname
            in_owner = qualname.endswith(f"{owner}.{member}")
            under_owner = f"/{owner}/" in f"/{file.path}" or file.path.rsplit("/", 1)[-1].startswith(
                owner + "."
            )
            chunk = self.symbol_chunk.get((fi, si))
            if chunk is not None and (in_owner or under_owner):
                self.chunk[chunk] += QUALIFIED_BONUS * (1.0 if in_owner else 0.5)
                self.note(fi, f"defines {owner}.{member}" if in_owner else f"defines {member}")

    def paths_and_frames(self) -> None:
        for written in self.query.paths:
            for fi in _suffix_matches(self.index, written):
                self.file_bonus[fi] += PATH_BONUS
                self.note(fi, "path in the issue")
        for frame in self.query.frames:
            for fi in _suffix_matches(self.index, frame.path):
                for si, symbol in enumerate(self.index.files[fi].record.symbols):
                    hit = frame.function == symbol.name or (
                        frame.line is not None and symbol.start <= frame.line <= symbol.end
                    )
                    chunk = self.symbol_chunk.get((fi, si))
                    if hit and chunk is not None:
                        self.chunk[chunk] += FRAME_BONUS
                        self.note(fi, f"stack frame in {symbol.qualname}")
        paths = self.index.lexical.path_scores(self.query.terms, len(self.index.files))
        if paths.size and paths.max() > 0:
            self.file_bonus += PATH_TERMS_WEIGHT * paths / paths.max()

    def literals(self, sources: Sources) -> None:
        """Messages found verbatim; one found in many candidates says little, so it is shared."""
        messages = [m for m in self.query.literals if len(m) >= 8]
        if not messages or not self.chunk.size:
            return
        lexical = self.index.lexical
        holders: dict[str, list[int]] = {m: [] for m in messages}
        for chunk in np.argsort(-self.chunk)[:LITERAL_CANDIDATES]:
            fi, ci = int(lexical.chunk_file[chunk]), int(lexical.chunk_local[chunk])
            file = self.index.files[fi]
            text = sources.text(file.path, file.record.chunks[ci].ranges)
            for message in messages:
                if message in text:
                    holders[message].append(int(chunk))
        for message, chunks in holders.items():
            for chunk in chunks:
                self.chunk[chunk] += LITERAL_BONUS / len(chunks)
                self.note(int(lexical.chunk_file[chunk]), f"contains {message[:40]!r}")

    def files(self) -> np.ndarray:
        n = len(self.index.files)
        factor = self.category
        best = np.zeros(n)
        owners = self.index.lexical.chunk_file
        for weight_rank, weight in enumerate(CHUNK_TOP_WEIGHTS):
            best += weight * _kth_best(self.chunk, owners, n, weight_rank)
        lexical = (best + self.file_bonus) * factor
        top = lexical.max() if n else 0.0
        if top <= 0:
            return lexical
        restart = np.where(lexical >= 0.1 * top, lexical, 0.0)
        ppr = personalized_pagerank(self.index.graph, restart)
        graph = ppr / ppr.max() if ppr.max() > 0 else ppr
        self.chunk *= factor[owners] if self.chunk.size else 1.0
        return lexical / top + GRAPH_WEIGHT * graph * np.where(factor >= 1.0, 1.0, factor)


def _reference(scores: np.ndarray, code: np.ndarray) -> float:
    """What BM25 scores are normalised by: the best code chunk's (tests quote the issue's words
    far more than the code that has the bug does, so they must not set the scale)."""
    pool = scores[code] if code.any() else scores
    best = float(pool.max()) if pool.size else 0.0
    return best if best > 0 else 1.0


def _kth_best(values: np.ndarray, owners: np.ndarray, n: int, k: int) -> np.ndarray:
    """Per file, its (k+1)-th best chunk value (0 when it has fewer chunks)."""
    out = np.zeros(n)
    if not values.size:
        return out
    order = np.lexsort((-values, owners))  # by file, best first
    sorted_owners = owners[order]
    starts = np.searchsorted(sorted_owners, np.arange(n))
    ends = np.searchsorted(sorted_owners, np.arange(n), side="right")
    has = ends - starts > k
    out[has] = values[order[starts[has] + k]]
    return out


def rank(index: RepoIndex, query: IssueQuery, sources: Sources) -> Ranking:
    scorer = _Scorer(index, query)
    scorer.paths_and_frames()
    scorer.identifiers()
    scorer.literals(sources)
    file_score = scorer.files()
    if scorer.chunk.size:
        file_norm = file_score / file_score.max() if file_score.max() > 0 else file_score
        scorer.chunk *= 0.7 + 0.3 * file_norm[index.lexical.chunk_file]
    return Ranking(file_score, scorer.chunk, scorer.offsets, scorer.symbol_chunk, scorer.reasons)
