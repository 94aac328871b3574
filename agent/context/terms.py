"""Words for lexical ranking: identifiers whole and split into their parts, lower-cased.

`parse_date` gives `parse_date parse date`, `getHelpRecord` gives `gethelprecord get help record`:
an issue that says "the help record" still meets the code, and one that names the identifier
meets it exactly (whole identifiers are rarer, so BM25 weighs them higher). A plural `s` is
dropped so "defaults" meets `default`. English and keyword noise words are dropped.
"""

from __future__ import annotations

import re
from collections import Counter

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_NOISE = """
a an and are as at be been but by can could did do does for from had has have he her his how i
if in into is it its me my no nor not of on or our she should so some such than that the their
them then there these they this those to too us was we were what when where which while who why
will with would you your also just only very more most other any each few both own same after
before again once here all out over under up down off above below between through during about
instead still even without within def class self cls return none null true false import var let
const function func fn pub static void public private protected package else elif try except
catch finally raise throw throws lambda yield pass break continue
"""
STOPWORDS = frozenset(_NOISE.split())


class Tokenizer:
    """Text to terms; remembers how each identifier splits (a repository repeats its names a lot)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[str, ...]] = {}
        self._joined: dict[str, str] = {}

    def terms(self, text: str) -> list[str]:
        """Terms with their repetitions (BM25 counts them), grouped by word rather than in order."""
        out: list[str] = []
        memo = self._memo
        for word, count in Counter(IDENTIFIER.findall(text)).items():
            split = memo.get(word)
            if split is None:
                split = memo[word] = word_terms(word)
            out.extend(split * count)
        return out

    def joined(self, text: str) -> str:
        """The same terms, space-separated (what a chunk's record keeps), in the text's own order.

        One join over memoised per-word strings, looked up in C (map/filter): the parse of a big
        repository spends much of its time here."""
        words = IDENTIFIER.findall(text)
        memo = self._joined
        for word in set(words).difference(memo):
            memo[word] = " ".join(word_terms(word))
        return " ".join(filter(None, map(memo.__getitem__, words)))


def _normal(word: str) -> str:
    low = word.lower()
    if len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is")):
        low = low[:-1]
    return low


def word_terms(word: str) -> tuple[str, ...]:
    """The identifier itself and, when it is compound, its parts (noise words dropped)."""
    whole = _normal(word.strip("_"))
    found: list[str] = []
    if len(whole) > 1 and whole not in STOPWORDS and not whole.isdigit():
        found.append(whole)
    parts = [_normal(p) for p in _PARTS.findall(word)]
    if len(parts) > 1:
        found.extend(p for p in parts if len(p) > 1 and p not in STOPWORDS and not p.isdigit())
    return tuple(found)


def path_terms(path: str) -> list[str]:
    """`src/click/shell_completion.py` gives `src click shell_completion shell completion py`."""
    return Tokenizer().terms(re.sub(r"[/.\-]", " ", path))
