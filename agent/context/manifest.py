"""What a pack holds, as data: `agent context --json` prints this, the benchmarks read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Mode = Literal["full", "snippets", "map"]


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    mode: Mode  # in full, as line-ranged snippets, or only as map entries (signatures)
    ranges: list[tuple[int, int]] = []  # lines shown as code (1-based, inclusive)
    symbols: list[str] = []  # qualified names whose whole code is shown
    tokens: int  # this file's share of the pack (its code block, or its map lines)
    tokens_exact: bool  # counted with the tokenizer (else estimated from the calibrated ratio)
    role: Literal["source", "test"] = "source"
    score: float = 0.0
    reasons: list[str] = []


class IndexSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: int  # files git lists (ignored files are never read)
    parsed: int  # parsed this run (the rest came from the cache)
    reused: int
    symlinks_skipped: int
    undecodable_skipped: int = 0  # file names that are not valid UTF-8 (a prompt cannot hold them)
    seconds: float


class PackManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: int
    total_tokens: int  # the whole pack, counted exactly with the tokenizer
    header_tokens: int
    map_tokens: int
    files: list[FileEntry]
    left_out: int  # repository files not in the pack at all
    index: IndexSummary
    seconds: float
    tokenizer_calls: int
    tokenized_chars: int

    def counts(self) -> dict[str, int]:
        return {mode: sum(1 for f in self.files if f.mode == mode) for mode in ("full", "snippets", "map")}

    def summary(self) -> str:
        """One line for people: what went in, how big, how fast."""
        tests = sum(1 for f in self.files if f.role == "test" and f.mode != "map")
        counts = self.counts()
        skipped = self.index.undecodable_skipped
        odd = (
            f"; {skipped} file name{'s that are' if skipped > 1 else ' that is'} not valid UTF-8 "
            f"{'were' if skipped > 1 else 'was'} skipped"
            if skipped
            else ""
        )
        return (
            f"repository context: {self.total_tokens:,} of {self.budget:,} tokens; "
            f"files: {counts['full']} in full, {counts['snippets']} as excerpts ({tests} of them tests), "
            f"{counts['map']} more in the map, {self.left_out} left out "
            f"({self.seconds:.1f}s; {self.index.parsed} parsed, {self.index.reused} from the cache){odd}"
        )


class ContextPack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    manifest: PackManifest
