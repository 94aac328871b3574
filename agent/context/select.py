"""Choosing what goes into the pack, by estimated cost, best first, within a token allowance.

Candidates are chunks in score order above a relevance floor (so a small repository does not
get padded with unrelated code just because there is room). A file small next to the budget
comes in full; otherwise its chunks come in as whole definitions, with the first line of each
enclosing class for orientation; a file mostly selected anyway is promoted to full. The
definitions the chosen code calls (in other source files) come next, above the floor or not. Test files
related to the chosen source (by name, or by referring to the chosen definitions) follow in
their own share of the budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from agent.context.index import RepoIndex
from agent.context.rank import Ranking
from agent.context.records import Range
from agent.context.sources import Sources
from agent.context.tags import CONTAINERS

Estimate = Callable[[int], int]  # characters -> estimated tokens
MERGE_GAP = 2  # ranges this close are shown as one (cheaper than a gap marker)
MAX_SKIPS = 40  # candidates in a row that did not fit: the budget is full
CALLEE_LIMIT = 24  # definitions the chosen code uses, brought in besides the ranked ones
CALLEE_MAX_DEFINERS = 3  # a name defined in more files than this does not say which one is meant
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Pick:
    file: int
    role: str = "source"
    full: bool = False
    chunks: list[int] = field(default_factory=list)  # local chunk indices, in selection order
    cost: int = 0  # estimated tokens of its rendered block


@dataclass
class Selection:
    picks: list[Pick]
    order: list[int]  # global chunk indices in the order they were taken (for trimming)


def ranges_of(index: RepoIndex, pick: Pick) -> list[Range]:
    record = index.files[pick.file].record
    if pick.full:
        return [(1, max(record.lines, 1))]
    spans: list[Range] = []
    for ci in pick.chunks:
        chunk = record.chunks[ci]
        spans.extend(chunk.ranges)
        parent = record.symbols[chunk.symbol].parent if chunk.symbol >= 0 else -1
        while parent >= 0:
            head = record.symbols[parent].head
            spans.append((head, head))
            parent = record.symbols[parent].parent
    return merge(spans)


def merge(spans: list[Range]) -> list[Range]:
    out: list[Range] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + MERGE_GAP + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _reference(scores: np.ndarray, rank: int = 5) -> float:
    """The relevance floor is relative to the 5th best chunk, so that one chunk boosted far
    ahead (an API entry point the issue names) does not push everything else under it."""
    top = np.sort(scores)[::-1][:rank]
    return float(top[-1]) if top.size else 0.0


class Selector:
    def __init__(
        self,
        index: RepoIndex,
        ranking: Ranking,
        sources: Sources,
        estimate: Estimate,
        min_relevance: float,
        full_file_share: float,
        class_share: float,
    ) -> None:
        self.index, self.ranking, self.sources = index, ranking, sources
        self.estimate = estimate
        self.min_relevance = min_relevance
        self.full_file_share = full_file_share
        self.class_share = class_share
        self.picks: dict[int, Pick] = {}
        self.order: list[int] = []

    def block_cost(self, pick: Pick) -> int:
        path = self.index.files[pick.file].path
        ranges = ranges_of(self.index, pick)
        return self.estimate(self.sources.chars(path, ranges) + len(path) + 40 + 12 * len(ranges))

    def candidates(self, role: str, files: set[int] | None = None) -> list[int]:
        scores = self.ranking.chunk_score
        if not scores.size:
            return []
        owners = self.index.lexical.chunk_file
        floor = self.min_relevance * _reference(scores)
        chosen = []
        for chunk in np.argsort(-scores, kind="stable"):
            if scores[chunk] <= 0 or (role == "source" and scores[chunk] < floor):
                break
            file = self.index.files[int(owners[chunk])]
            if (role == "test") != file.test or (files is not None and int(owners[chunk]) not in files):
                continue
            chosen.append(int(chunk))
        return chosen

    def fill(
        self, role: str, allowance: int, total_budget: int, files: set[int] | None = None
    ) -> tuple[int, bool]:
        """Take candidates while they fit in `allowance`: (tokens used, whether room ran out)."""
        used, skips, bound = 0, 0, False
        for chunk in self.candidates(role, files):
            gained = self._take(chunk, role, allowance - used, total_budget)
            if gained is None:
                bound, skips = True, skips + 1
                if skips >= MAX_SKIPS:
                    break
                continue
            used += gained
            skips = 0
        return used, bound

    def _take(self, chunk: int, role: str, room: int, total_budget: int) -> int | None:
        fi = int(self.index.lexical.chunk_file[chunk])
        local = int(self.index.lexical.chunk_local[chunk])
        pick = self.picks.get(fi)
        if pick is not None and (pick.full or local in pick.chunks):
            return 0
        full_cost = self.block_cost(Pick(fi, role, full=True))
        before = pick.cost if pick is not None else 0
        if pick is None and full_cost <= self.full_file_share * total_budget and full_cost <= room:
            self.picks[fi] = Pick(fi, role, full=True, cost=full_cost)
            self.order.append(chunk)
            return full_cost
        trial = self._with(pick, fi, role, self._unit(fi, local, total_budget))
        if trial.cost - before > room:
            trial = self._with(pick, fi, role, [local])
        if trial.cost - before > room:
            return None
        if trial.cost >= 0.7 * full_cost and full_cost - before <= room:
            trial = Pick(fi, role, full=True, chunks=trial.chunks, cost=full_cost)
        self.picks[fi] = trial
        self.order.append(chunk)
        return trial.cost - before

    def _with(self, pick: Pick | None, fi: int, role: str, chunks: list[int]) -> Pick:
        taken = pick.chunks if pick is not None else []
        trial = Pick(fi, role, chunks=[*taken, *(c for c in chunks if c not in taken)])
        trial.cost = self.block_cost(trial)
        return trial

    def _unit(self, fi: int, local: int, total_budget: int) -> list[int]:
        """The chunk, or all chunks of the outermost class around it that is small next to the
        budget (a method is best read with the rest of its class)."""
        record = self.index.files[fi].record
        symbol = record.chunks[local].symbol
        best: list[int] = [local]
        parent = symbol
        while parent >= 0:
            outer = record.symbols[parent]
            if outer.kind in CONTAINERS:
                ranges = [(outer.start, outer.end)]
                cost = self.estimate(self.sources.chars(self.index.files[fi].path, ranges))
                share = self.full_file_share if parent == symbol else self.class_share  # chosen itself
                if cost > share * total_budget:
                    break
                best = [
                    ci
                    for ci, chunk in enumerate(record.chunks)
                    if outer.start <= chunk.ranges[0][0] and chunk.ranges[-1][1] <= outer.end
                ]
            parent = outer.parent
        return best

    def callees(self, limit: int = CALLEE_LIMIT) -> list[int]:
        """Chunks defining names the chosen source code uses, in other source files, best first.

        The code a chosen function calls is what a reader opens next (the bug is often there, in
        a helper the issue never names), whatever its own score; names defined in many files say
        nothing and are skipped.
        """
        used: set[str] = set()
        for pick in self.picks.values():
            if pick.role != "source":
                continue
            file = self.index.files[pick.file]
            if pick.full:
                used |= file.record.refs.keys()
            else:
                text = self.sources.text(file.path, ranges_of(self.index, pick))
                used |= set(_IDENTIFIER.findall(text))
        wanted: set[tuple[int, int]] = set()
        for name in used:
            places = self.index.definitions.get(name, [])
            files = {fi for fi, _ in places}
            if len(name) < 3 or not places or len(files) > CALLEE_MAX_DEFINERS:
                continue
            for fi, si in places:
                definer = self.picks.get(fi)
                if not self.index.files[fi].test and not (definer is not None and definer.full):
                    wanted.add((fi, si))
        lexical = self.index.lexical
        in_files = np.flatnonzero(np.isin(lexical.chunk_file, sorted({fi for fi, _ in wanted})))
        chunks = []
        for chunk in in_files.tolist():
            fi, local = int(lexical.chunk_file[chunk]), int(lexical.chunk_local[chunk])
            if (fi, self.index.files[fi].record.chunks[local].symbol) in wanted:
                chunks.append(chunk)
        scores = self.ranking.chunk_score
        chunks.sort(key=lambda c: -float(scores[c]) if scores.size else 0.0)
        return chunks[:limit]

    def fill_chunks(self, chunks: list[int], role: str, allowance: int, total_budget: int) -> int:
        """Take these chunks, in order, while they fit in `allowance`; tokens used."""
        used = 0
        for chunk in chunks:
            gained = self._take(chunk, role, allowance - used, total_budget)
            if gained is not None:
                used += gained
        return used

    def related_tests(self) -> set[int]:
        """Test files named after a chosen source file, or referring to its chosen definitions."""
        stems = {PurePosixPath(self.index.files[fi].path).stem for fi in self.picks} - {
            "__init__",
            "index",
            "mod",
        }
        names = set()
        for pick in self.picks.values():
            record = self.index.files[pick.file].record
            for ci in pick.chunks if not pick.full else range(len(record.chunks)):
                symbol = record.chunks[ci].symbol
                if symbol >= 0 and len(record.symbols[symbol].name) > 3:
                    names.add(record.symbols[symbol].name)
        related = set()
        for fi, file in enumerate(self.index.files):
            if not file.test:
                continue
            stem = PurePosixPath(file.path).stem
            if any(s in stem for s in stems if len(s) > 2) or names & file.record.refs.keys():
                related.add(fi)
        return related

    def selection(self) -> Selection:
        return Selection(list(self.picks.values()), list(self.order))
