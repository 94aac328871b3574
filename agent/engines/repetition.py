"""A generation stuck in a loop: the same few tokens over and over at the end of the output.

Small models sampled inside a grammar-constrained string can fall into `if u == 's' if u == 's' …`
until the token limit, which on a laptop CPU costs minutes. The engine checks the tail of a call as
it grows and stops it once one short pattern fills a long stretch; the call then fails with a
message the model can act on, instead of the turn running on for thousands of tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_SPAN = 96  # tokens of pure repetition before it counts: real code rarely repeats this long
MIN_REPEATS = 6  # and at least this many copies of the pattern
MAX_PERIOD = 48  # the longest pattern looked for


def repeating_period(ids: Sequence[int]) -> int:
    """The length of the pattern the tail of `ids` repeats, or 0 when it does not loop."""
    n = len(ids)
    for period in range(1, MAX_PERIOD + 1):
        span = max(MIN_SPAN, period * MIN_REPEATS)
        if span > n:
            return 0  # longer patterns need a longer tail still
        tail = list(ids[n - span :])
        if tail[period:] == tail[:-period]:
            return period
    return 0
