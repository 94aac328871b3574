"""Blocks of lines: what the matching ladder looks for, what it returns, and the exact rungs.

`key` is the comparison the whitespace rung uses; `windows` finds every run of lines equal to a
block under a comparison. See tools/editing/matching.py for the ladder itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tools.base import ToolError
from tools.editing.reindent import Reindent
from tools.editing.textfile import number_lines

CANDIDATE_LINES = 8


class NoMatch(ToolError):
    """The block was not found, or not in exactly one place; the message shows the candidates."""


class Ambiguous(NoMatch):
    """The block fits several places equally well."""


@dataclass(frozen=True)
class Match:
    start: int  # first file line replaced (0-based)
    end: int  # one past the last
    lines: list[str]  # what goes there
    rung: str  # exact | whitespace | quotes | elision | fuzzy
    note: str = ""  # for the model, when the match was not exact


@dataclass(frozen=True)
class Query:
    """What to look for and how to name it in messages."""

    old: list[str]
    new: list[str]
    what: str = "old_text"
    path: str = "the file"
    hint: int | None = None  # the 0-based line a diff hunk's header names
    after: int = 0  # earlier hunks of the same patch ended here
    fuzzy: bool = True  # allow the fuzzy rung
    explain: bool = True  # a refusal shows the closest lines (costs a scan of the file)

    def with_lines(self, old: list[str], new: list[str]) -> Query:
        return replace(self, old=old, new=new)


def key(line: str) -> str:
    """A line with indentation, trailing and repeated whitespace ignored."""
    return " ".join(line.split())


def number(lines: list[str], first: int) -> str:
    """Lines numbered exactly as read_file shows them."""
    return number_lines(lines, first)


def show(lines: list[str], start: int, end: int) -> str:
    shown = lines[start : min(end, start + CANDIDATE_LINES)]
    more = f"\n[... {end - start - len(shown)} more lines]" if end - start > len(shown) else ""
    return number(shown, start + 1) + more


# ---- rungs 1 and 2 ------------------------------------------------------------------------------


def windows(lines: list[str], old: list[str], same: Callable[[str, str], bool], lo: int = 0) -> list[int]:
    """Starts of every run of len(old) lines where each line is `same` as old's."""
    n = len(old)
    return [
        s
        for s in range(lo, len(lines) - n + 1)
        if same(lines[s], old[0]) and all(same(lines[s + k], old[k]) for k in range(1, n))
    ]


def exact_candidates(lines: list[str], old: list[str]) -> list[Match]:
    return [Match(s, s + len(old), [], "exact") for s in windows(lines, old, str.__eq__)]


def whitespace_candidates(lines: list[str], old: list[str]) -> list[tuple[int, Reindent]]:
    found = []
    for s in windows(lines, old, lambda a, b: key(a) == key(b)):
        reindent = Reindent.fit(list(zip(old, lines[s : s + len(old)], strict=True)))
        if reindent is not None:
            found.append((s, reindent))
    return found


def quote_key(line: str) -> str:
    """`key`, with single and double quotes taken as the same character."""
    return key(line).replace("'", '"')


def quote_candidates(lines: list[str], old: list[str]) -> list[tuple[int, Reindent]]:
    """Whole-line matches that differ only in quote style (and whitespace): `env['X']` for `env["X"]`."""
    found = []
    for s in windows(lines, old, lambda a, b: quote_key(a) == quote_key(b)):
        reindent = Reindent.fit(list(zip(old, lines[s : s + len(old)], strict=True)))
        if reindent is not None:
            found.append((s, reindent))
    return found


def trim_blank_edges(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """Drop blank lines at both ends of old (and as many blank ones at the same end of new)."""
    head = next((i for i, line in enumerate(old) if line.strip()), len(old))
    tail = next((i for i, line in enumerate(reversed(old)) if line.strip()), len(old))
    if head == len(old):
        return old, new
    new_head = min(head, next((i for i, line in enumerate(new) if line.strip()), len(new)))
    new_tail = min(tail, next((i for i, line in enumerate(reversed(new)) if line.strip()), len(new)))
    trimmed_new = new[new_head : len(new) - new_tail] if new_head + new_tail < len(new) else []
    return old[head : len(old) - tail], trimmed_new
