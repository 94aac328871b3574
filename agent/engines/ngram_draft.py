"""Prompt-lookup drafts: the tokens that followed the last time the context said what it says now.

A repair draft is mostly the old function written back with a line or two changed, and the old
function is in the prompt. When the last `min_match` tokens of the context (prompt and reply so
far) occurred earlier, the tokens that followed them there are proposed as the next ones; the
verifier (agent/engines/speculative.py) keeps those the model would have produced anyway.

A draft token the model refuses costs a batch position (on two cores a third to a half of a decode
step), so drafts are sized by how long the current match already is (a copy that has run for 20
tokens is likely to go on, a 3-token coincidence in free text is given one token) and by how
often drafts were kept lately: with `batch_cost` measured per model, the length that yields most
tokens per unit of cost (`best_size`). A draft the model refuses outright raises the match required
before the next one (up to `max_backoff` more tokens); one kept whole lowers it again, so prose
with few repeats soon stops paying for drafts. Among
the earlier places that share the tail, the one matching furthest back wins (the most recent on a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_CANDIDATES = 8  # earlier places of the same n-gram that are compared (the most recent ones)
MATCH_LOOKBACK = 64  # how far back a match is followed to measure it
MEMORY = 0.8  # weight of the acceptance seen so far against the last draft's


def best_size(keep: float, batch_cost: float, most: int) -> int:
    """The draft length that yields most tokens per unit of batch cost when each drafted token is
    kept with probability `keep` once the ones before it were: (1 + keep + keep^2 + ... + keep^k)
    tokens for (1 + batch_cost * k) decode steps. At least 1."""
    best, best_rate, expected = 1, 0.0, 1.0
    for size in range(1, most + 1):
        expected += keep**size
        rate = expected / (1 + batch_cost * size)
        if rate > best_rate:
            best, best_rate = size, rate
    return best


@dataclass(frozen=True)
class NgramSettings:
    """How prompt-lookup drafts are made (per model: agent/engines/speculation_settings.py)."""

    min_match: int = 3  # tokens of the context's tail that must have occurred before
    max_draft: int = 16  # tokens drafted at most per verification batch
    # tokens of draft per token of match beyond `min_match` (a match of min_match gives one)
    growth: float = 1.0
    max_backoff: int = 4  # the most a run of refused drafts raises the match required
    # what each drafted token adds to a verification batch's cost, in decode steps (measured:
    # a batch of 1 + k tokens costs about 1 + batch_cost * k steps on the model and machine)
    batch_cost: float = 0.35


class PromptLookup:
    """Drafts from one growing token sequence; `extend` it with every token the model keeps."""

    def __init__(self, settings: NgramSettings, context: Sequence[int] = ()) -> None:
        self.settings = settings
        self._tokens: list[int] = list(context)
        self._places: dict[tuple[int, ...], list[int]] = {}
        self._indexed = settings.min_match  # n-grams ending before this position are indexed
        self.required = settings.min_match  # the match a draft needs now (raised by refusals)
        # drafted tokens kept and drafts cut short, decaying; the prior says 6 in 7 are kept
        self._kept, self._refused = 3.0, 0.5

    @property
    def tokens(self) -> list[int]:
        return self._tokens

    def extend(self, tokens: Sequence[int]) -> None:
        self._tokens.extend(tokens)

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that may come next (none when the tail has no earlier match)."""
        if limit <= 0:
            return []
        self._index()
        place, matched = self._best_place()
        if place < 0 or matched < self.required:
            return []
        size = 1 + int((matched - self.settings.min_match) * self.settings.growth)
        size = min(size, self.settings.max_draft, limit)
        keep = self._kept / (self._kept + self._refused)
        size = min(size, best_size(keep, self.settings.batch_cost, size))
        return self._tokens[place : place + size]

    def feedback(self, drafted: int, accepted: int) -> None:
        """How the last draft went: refused outright, the next needs a longer match; kept whole, less."""
        if not drafted:
            return
        self._kept = self._kept * MEMORY + accepted
        self._refused = self._refused * MEMORY + (accepted < drafted)
        if not accepted:
            self.required = min(self.required + 1, self.settings.min_match + self.settings.max_backoff)
        elif accepted == drafted:
            self.required = max(self.required - 1, self.settings.min_match)

    def _index(self) -> None:
        """Record the n-grams that now have a following token (so never the tail itself)."""
        n = self.settings.min_match
        tokens = self._tokens
        for end in range(self._indexed, len(tokens)):  # n-gram tokens[end-n:end], followed by tokens[end]
            key = tuple(tokens[end - n : end])
            places = self._places.get(key)
            if places is None:
                self._places[key] = [end]
            else:
                places.append(end)
                if len(places) > MAX_CANDIDATES:
                    del places[0]
        self._indexed = max(self._indexed, len(tokens))

    def _best_place(self) -> tuple[int, int]:
        """(where the best earlier match's continuation starts, how many tokens it matches); -1: none."""
        n = self.settings.min_match
        tokens = self._tokens
        if len(tokens) <= n:
            return -1, 0
        places = self._places.get(tuple(tokens[-n:]))
        if not places:
            return -1, 0
        best, best_matched = -1, 0
        for place in reversed(places):
            matched = _match_length(tokens, place, len(tokens))
            if matched > best_matched:
                best, best_matched = place, matched
        return best, best_matched


def _match_length(tokens: Sequence[int], earlier: int, later: int) -> int:
    """How many tokens before `earlier` equal those before `later` (at most MATCH_LOOKBACK)."""
    matched = 0
    while (
        matched < MATCH_LOOKBACK
        and earlier - matched > 0
        and tokens[earlier - matched - 1] == tokens[later - matched - 1]
    ):
        matched += 1
    return matched
