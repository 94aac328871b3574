"""Rung 4 of the matching ladder: a block with a few misremembered lines, found only when clear.

A window of the same length qualifies when at most `fuzzy_allowed(n)` of its lines differ from the
model's (after whitespace normalisation), the char-weighted similarity of the whole is at least
FUZZY_MIN, and every other window of the file scores at least FUZZY_MARGIN lower (windows that
overlap it included: in repetitive code a block shifted by a line is a real rival). Blocks of
fewer than FUZZY_MIN_LINES non-blank lines are never matched this way, and the differing lines must
be ones the edit keeps (context): a line the model wants to change or delete must be quoted right,
or the model would change a line it has not seen as it is.

The search is cheap where it can be: only windows where enough lines agree exactly can win, and
a rival is looked for with upper bounds first (difflib's length bound, then its character-count
bound) so the full ratio is computed only for windows that might come close. A rival's score is
never underestimated.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass

from tools.editing.blocks import Match, Query, key
from tools.editing.reindent import Reindent, merge

FUZZY_MIN = 0.85
FUZZY_MARGIN = 0.1
FUZZY_MIN_LINES = 3


def kept_lines(old: list[str], new: list[str]) -> set[int]:
    """Indices of old's lines that the edit leaves as they are."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return {i for tag, i1, i2, _, _ in matcher.get_opcodes() if tag == "equal" for i in range(i1, i2)}


def fuzzy_allowed(n: int) -> int:
    """How many lines of an n-line block may differ in a fuzzy match."""
    return max(1, n // 5)


@dataclass
class Scorer:
    """Similarity of the model's lines to windows of the file, computed only as far as needed."""

    old_keys: list[str]
    keys: list[str]

    def __post_init__(self) -> None:
        self._matchers = []
        for want in self.old_keys:
            matcher = difflib.SequenceMatcher(autojunk=False)
            matcher.set_seq2(want)
            self._matchers.append(matcher)
        self._ratio: dict[tuple[int, int], float] = {}

    def weight(self, k: int, j: int) -> int:
        return max(len(self.old_keys[k]), len(self.keys[j]), 1)

    def bound(self, k: int, j: int) -> float:
        a, b = len(self.old_keys[k]), len(self.keys[j])
        return 1.0 if self.old_keys[k] == self.keys[j] else (2.0 * min(a, b) / (a + b) if a + b else 1.0)

    def ratio(self, k: int, j: int, floor: float = 0.0) -> float:
        """The line pair's similarity; below `floor` an upper bound may stand in for it."""
        if self.old_keys[k] == self.keys[j]:
            return 1.0
        if (k, j) in self._ratio:
            return self._ratio[(k, j)]
        matcher = self._matchers[k]
        matcher.set_seq1(self.keys[j])
        quick = matcher.quick_ratio()
        if quick < floor:
            return quick
        self._ratio[(k, j)] = matcher.ratio()
        return self._ratio[(k, j)]

    def score(self, s: int) -> float:
        n = len(self.old_keys)
        total = sum(self.weight(k, s + k) for k in range(n))
        return sum(self.weight(k, s + k) * self.ratio(k, s + k) for k in range(n)) / total

    def beats(self, s: int, threshold: float) -> bool:
        """Whether window `s` may score `threshold` or more (bounds first, the full ratio last)."""
        n = len(self.old_keys)
        weights = [self.weight(k, s + k) for k in range(n)]
        total = sum(weights)
        if sum(w * self.bound(k, s + k) for k, w in enumerate(weights)) < threshold * total:
            return False
        quick = [self.ratio(k, s + k, floor=2.0) for k in range(n)]  # quick bounds (and exact 1s)
        if sum(w * q for w, q in zip(weights, quick, strict=True)) < threshold * total:
            return False
        return self.score(s) >= threshold


def agreement(keys: list[str], old_keys: list[str]) -> dict[int, int]:
    """For each window start, how many of its lines equal the model's exactly (whitespace aside)."""
    at: dict[str, list[int]] = defaultdict(list)
    for j, text in enumerate(keys):
        at[text].append(j)
    n = len(old_keys)
    agree: dict[int, int] = defaultdict(int)
    for k, want in enumerate(old_keys):
        for j in at.get(want, ()):
            if 0 <= j - k <= len(keys) - n:
                agree[j - k] += 1
    return agree


def fuzzy_match(lines: list[str], query: Query) -> tuple[Match | None, list[tuple[float, int]]]:
    """The one window that is clearly the block the model meant, and the closest windows seen."""
    old, n = query.old, len(query.old)
    old_keys, keys = [key(line) for line in old], [key(line) for line in lines]
    agree = agreement(keys, old_keys)
    if sum(1 for line in old if line.strip()) < FUZZY_MIN_LINES or n > len(lines):
        return None, []
    scorer = Scorer(old_keys, keys)
    candidates = sorted(
        ((scorer.score(s), s) for s, count in agree.items() if count >= n - fuzzy_allowed(n)), reverse=True
    )
    if not candidates:
        return None, []
    best_score, best = candidates[0]
    if best_score < FUZZY_MIN:
        return None, candidates[:3]
    threshold = best_score - FUZZY_MARGIN
    rival = next((s for s in range(len(lines) - n + 1) if s != best and scorer.beats(s, threshold)), None)
    if rival is not None:
        return None, [candidates[0], (scorer.score(rival), rival)]
    differ = [k for k in range(n) if old_keys[k] != keys[best + k]]
    if not set(differ) <= kept_lines(old, query.new):
        return None, candidates[:1]  # never replace or delete a line whose text the model got wrong
    found = lines[best : best + n]
    reindent = Reindent.fit([(old[k], found[k]) for k in range(n) if k not in differ])
    if reindent is None:
        return None, candidates[:1]
    shown = ", ".join(str(best + k + 1) for k in differ)
    note = f"matched approximately ({best_score:.0%} similar; file line {shown} differs from your text)"
    return Match(best, best + n, merge(found, old, query.new, reindent), "fuzzy", note), candidates[:1]


def closest_windows(lines: list[str], old: list[str], limit: int = 3) -> list[tuple[float, int]]:
    """The windows most similar to `old` as text (for the refusal message only)."""
    n = max(1, len(old))
    text = "\n".join(key(line) for line in old)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(text)
    best: list[tuple[float, int]] = []
    floor = 0.0
    for s in range(max(1, len(lines) - n + 1)):
        matcher.set_seq1("\n".join(key(line) for line in lines[s : s + n]))
        if matcher.real_quick_ratio() > floor and matcher.quick_ratio() > floor:
            best = sorted([*best, (matcher.ratio(), s)], reverse=True)[:limit]
            floor = best[-1][0] if len(best) == limit else 0.0
    return best
