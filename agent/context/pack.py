"""(repository, issue, budget) -> the pack: ranked map + full files + whole-definition excerpts.

Tokens are counted with the caller's tokenizer, sparingly: a sample of the best candidates
calibrates a characters-per-token ratio, the selection is made on estimates, and the finished
pack is counted exactly. If it is over the budget the selection is redone with less room (it is
never cut mid-definition); if a budget-bound selection came out well under, it is redone once
with the measured ratio. The budget is a ceiling, not a target: below the relevance floor
nothing is added, however much room is left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.context.index import RepoIndex, load_index
from agent.context.issue import parse_issue
from agent.context.manifest import ContextPack, FileEntry, IndexSummary, PackManifest
from agent.context.rank import Ranking, rank
from agent.context.render import (
    MapEntry,
    assemble,
    map_entry,
    render_block,
    render_header,
    render_map,
    shown_symbols,
    top_files,
)
from agent.context.select import Pick, Selector, ranges_of
from agent.context.sources import Sources
from agent.progress import Progress

CountTokens = Callable[[str], int]
DEFAULT_RATIO = 3.2  # characters per token before calibration
SAFETY = 1.05  # estimates from a sample are inflated this much
SAMPLED_SAFETY = 1.02  # from slices of a rendered pack
MEASURED_SAFETY = 1.01  # and from a whole pack's own ratio, this much
CALIBRATION_CHARS = 40_000
CALIBRATION_CHUNKS = 40
MAX_ROUNDS = 6
FULL_ENOUGH = 0.92  # a budget-bound pack this full is not selected again


class PackOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_relevance: float = 0.5  # candidates below this share of the best score are left out
    full_file_share: float = 0.25  # a file whose whole text fits in this share comes in full
    class_share: float = 0.12  # a class this small next to the budget comes whole with its method
    map_share: float = 0.08  # of the budget, for the map of ranked definitions
    map_max_tokens: int = 4000
    map_files: int = 30
    map_min_relevance: float = 0.1
    test_share: float = 0.15  # of the code allowance, for tests related to the chosen source
    exact_blocks_below: int = 32_000  # count each block exactly when the pack is this small


class _Tokens:
    """The caller's tokenizer with a call log, and the calibrated characters-per-token ratio."""

    def __init__(self, count: CountTokens) -> None:
        self._count = count
        self.calls = 0
        self.chars = 0
        self.ratio = DEFAULT_RATIO
        self.safety = SAFETY
        self.measured = False

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return self._count(text)

    def calibrate(self, sample: str) -> None:
        if len(sample) >= 200:
            self.ratio = len(sample) / max(1, self.count(sample))

    def sample(self, text: str, slices: int = 6, size: int = 6000) -> None:
        """Calibrate on slices spread through a rendered pack (cheaper than counting all of it)."""
        if len(text) <= slices * size:
            return
        step = len(text) // slices
        parts = [text[i * step : i * step + size] for i in range(slices)]
        self.ratio = sum(map(len, parts)) / max(1, sum(self.count(p) for p in parts))
        self.safety = SAMPLED_SAFETY

    def measure(self, text: str, tokens: int) -> None:
        """The ratio of a whole rendered pack: the best estimate for the next selection."""
        self.ratio, self.safety, self.measured = len(text) / max(tokens, 1), MEASURED_SAFETY, True

    def estimate(self, chars: int) -> int:
        return math.ceil(chars / self.ratio * self.safety)


class _Plan:
    """One selection at a given allowance, rendered."""

    def __init__(self, picks: list[Pick], entries: list[MapEntry], text: str, bound: bool) -> None:
        self.picks, self.entries, self.text, self.bound = picks, entries, text, bound


class Packer:
    def __init__(
        self, index: RepoIndex, task: str, count: CountTokens, options: PackOptions | None = None
    ) -> None:
        self.index = index
        self.options = options or PackOptions()
        self.sources = Sources(index.root)
        self.ranking: Ranking = rank(index, parse_issue(task), self.sources)
        self.tokens = _Tokens(count)

    def _calibrate(self) -> None:
        lexical = self.index.lexical
        sample: list[str] = []
        for chunk in self.ranking.chunk_score.argsort()[::-1][:CALIBRATION_CHUNKS]:
            file = self.index.files[int(lexical.chunk_file[chunk])]
            sample.append(
                self.sources.text(file.path, file.record.chunks[int(lexical.chunk_local[chunk])].ranges)
            )
            if sum(map(len, sample)) > CALIBRATION_CHARS:
                break
        self.tokens.calibrate("\n".join(sample)[:CALIBRATION_CHARS])

    def plan(self, budget: int, content: int) -> _Plan:
        opts = self.options
        selector = Selector(
            self.index,
            self.ranking,
            self.sources,
            self.tokens.estimate,
            opts.min_relevance,
            opts.full_file_share,
            opts.class_share,
        )
        tests = int(opts.test_share * content)
        used, bound = selector.fill("source", content - tests, budget)
        if selector.picks:
            used += selector.fill_chunks(selector.callees(), "source", content - tests - used, budget)
        if selector.picks:
            selector.fill("test", min(tests, content - used), budget, files=selector.related_tests())
        picks = selector.selection().picks
        entries = self._map(picks, self._map_allowance(budget))
        return _Plan(picks, entries, self._render(budget, picks, entries), bound)

    def _map_allowance(self, budget: int) -> int:
        return int(min(self.options.map_max_tokens, self.options.map_share * budget))

    def _map(self, picks: list[Pick], allowance: int) -> list[MapEntry]:
        by_file = {p.file: p for p in picks}
        entries: list[MapEntry] = []
        chars = 0
        files = top_files(self.ranking, self.options.map_min_relevance, self.options.map_files)
        for fi in files:
            pick = by_file.get(fi)
            if pick is not None and pick.full:
                continue
            shown = shown_symbols(self.index, pick) if pick is not None else set()
            entry = map_entry(self.index, self.ranking, fi, shown, 12 if not entries else 8)
            if entry is None:
                continue
            cost = len(entry.text(self.index.files[fi].path)) + 1
            if self.tokens.estimate(chars + cost) > allowance:
                break
            entries.append(entry)
            chars += cost
        return entries

    def _render(self, budget: int, picks: list[Pick], entries: list[MapEntry]) -> str:
        sources = [p for p in picks if p.role == "source"]
        tests = [p for p in picks if p.role == "test"]
        seen = {p.file for p in picks} | {e.file for e in entries}
        header = render_header(
            budget,
            full=sum(1 for p in sources if p.full),
            snippets=sum(1 for p in sources if not p.full),
            tests=len(tests),
            mapped=len({e.file for e in entries} - {p.file for p in picks}),
            left_out=len(self.index.files) - len(seen),
            total_files=len(self.index.files),
        )
        ordered = sorted(sources, key=lambda p: -self.ranking.file_score[p.file]) + tests
        blocks = [render_block(self.index, self.sources, p) for p in ordered]
        return assemble(header, render_map(self.index, entries), blocks)

    def pack(self, budget: int) -> tuple[_Plan, int]:
        """The best plan whose exact token count is within `budget`, and that count."""
        self._calibrate()
        header_reserve = 160
        content = budget - header_reserve - self._map_allowance(budget)
        best: tuple[_Plan, int] | None = None
        for round_ in range(MAX_ROUNDS):
            plan = self.plan(budget, max(content, 0))
            if round_ == 0 and plan.bound:  # big pack: check the estimate on slices before counting
                self.tokens.sample(plan.text)
                estimated = self.tokens.estimate(len(plan.text))
                if estimated > budget or estimated < FULL_ENOUGH * budget:
                    plan = self.plan(budget, max(content, 0))
            total = self.tokens.count(plan.text) if plan.text else 0
            if total <= budget:
                best = (plan, total)
                full_enough = total >= FULL_ENOUGH * budget or len(plan.text) < 200
                if not plan.bound or full_enough or self.tokens.measured:
                    break
                self.tokens.measure(plan.text, total)  # room left: select once more, measured
                continue
            if best is not None:
                break
            if self.tokens.measured:  # measured and still over: give up some room
                content -= int((total - budget) * 1.2) + 32
            self.tokens.measure(plan.text, total)
        if best is None:
            empty = _Plan([], [], "", False)
            return empty, 0
        return best


def build_pack(
    root: Path,
    task: str,
    budget: int,
    count_tokens: CountTokens,
    *,
    cache_dir: Path | None = None,
    options: PackOptions | None = None,
    index: RepoIndex | None = None,
    progress: Progress | None = None,
) -> ContextPack:
    """The pack for `task` within `budget` tokens; `progress` hears the index build's parsing
    (agent/context/index.py `load_index`), when `index` is not given."""
    started = time.monotonic()
    index = index if index is not None else load_index(root, cache_dir, progress=progress)
    packer = Packer(index, task, count_tokens, options)
    plan, total = packer.pack(budget)
    manifest = _manifest(packer, plan, budget, total, time.monotonic() - started)
    return ContextPack(text=plan.text, manifest=manifest)


def pack_context(root: Path, task: str, budget_tokens: int, count_tokens: CountTokens) -> str:
    """The pack's text only (no cache directory: parses are kept in memory for this call)."""
    return build_pack(root, task, budget_tokens, count_tokens).text


def _manifest(packer: Packer, plan: _Plan, budget: int, total: int, seconds: float) -> PackManifest:
    index, tokens = packer.index, packer.tokens
    exact = total <= packer.options.exact_blocks_below
    entries: list[FileEntry] = []
    for pick in sorted(plan.picks, key=lambda p: (p.role != "source", -packer.ranking.file_score[p.file])):
        block = render_block(index, packer.sources, pick)
        file = index.files[pick.file]
        entries.append(
            FileEntry(
                path=file.path,
                mode="full" if pick.full else "snippets",
                ranges=ranges_of(index, pick),
                symbols=[file.record.symbols[s].qualname for s in sorted(shown_symbols(index, pick))],
                tokens=tokens.count(block) if exact else tokens.estimate(len(block)),
                tokens_exact=exact,
                role="test" if pick.role == "test" else "source",
                score=round(float(packer.ranking.file_score[pick.file]), 4),
                reasons=packer.ranking.reasons.get(pick.file, []),
            )
        )
    picked = {p.file for p in plan.picks}
    map_text = render_map(index, plan.entries)
    for entry in plan.entries:
        if entry.file in picked:
            continue
        text = entry.text(index.files[entry.file].path)
        entries.append(
            FileEntry(
                path=index.files[entry.file].path,
                mode="map",
                tokens=tokens.estimate(len(text)),
                tokens_exact=False,
                score=round(float(packer.ranking.file_score[entry.file]), 4),
                reasons=packer.ranking.reasons.get(entry.file, []),
            )
        )
    header = plan.text.split("\n\n", 1)[0] if plan.text else ""
    stats = index.stats
    return PackManifest(
        budget=budget,
        total_tokens=total,
        header_tokens=tokens.count(header) if header and exact else tokens.estimate(len(header)),
        map_tokens=(tokens.count(map_text) if exact else tokens.estimate(len(map_text))) if map_text else 0,
        files=entries,
        left_out=len(index.files) - len(picked | {e.file for e in plan.entries}),
        index=IndexSummary(
            files=stats.files,
            parsed=stats.parsed,
            reused=stats.reused,
            symlinks_skipped=stats.symlinks,
            undecodable_skipped=stats.undecodable,
            seconds=stats.seconds,
        ),
        seconds=round(seconds, 3),
        tokenizer_calls=tokens.calls,
        tokenized_chars=tokens.chars,
    )
