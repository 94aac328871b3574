"""File lines read on demand (only for files the ranking and the pack actually look at)."""

from __future__ import annotations

from pathlib import Path

from agent.context.records import Range, split_lines


class Sources:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, list[str]] = {}
        self._sizes: dict[str, list[int]] = {}

    def lines(self, path: str) -> list[str]:
        cached = self._lines.get(path)
        if cached is None:
            try:
                text = (self.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            cached = self._lines[path] = [line.rstrip("\r") for line in split_lines(text)]
        return cached

    def text(self, path: str, ranges: tuple[Range, ...] | list[Range]) -> str:
        lines = self.lines(path)
        return "\n".join("\n".join(lines[a - 1 : b]) for a, b in ranges)

    def chars(self, path: str, ranges: list[Range]) -> int:
        """Characters of those lines, newlines included (prefix sums: cheap to ask often)."""
        sizes = self._sizes.get(path)
        if sizes is None:
            sizes = [0]
            for line in self.lines(path):
                sizes.append(sizes[-1] + len(line) + 1)
            self._sizes[path] = sizes
        last = len(sizes) - 1
        return sum(sizes[min(b, last)] - sizes[min(a - 1, last)] for a, b in ranges)
