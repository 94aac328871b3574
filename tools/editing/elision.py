"""Rung 3 of the matching ladder: `...` lines standing for code the model left out.

A marker line is `...` / `…` alone, or a comment made only of dots and words like "rest
unchanged", "existing code", "10 more lines" (`# ...`, `// ... existing code ...`, `/* ... */`).
The pieces of old_text between markers must match in order (each up to indentation), with the
elided file lines in between indented at least as deep as the marker (so a gap never runs out of
the block the model was showing); a marker at the outermost level needs the next piece to occur
only once after the previous one. The elided lines are kept where new_text repeats the marker.
"""

from __future__ import annotations

import re

from tools.editing.blocks import Match, NoMatch, Query, key, windows
from tools.editing.reindent import Reindent, indent_of, merge, width

_COMMENT_OPEN = re.compile(r"^(?:#+|//+|/\*+|--|<!--|;+|\*)\s*")
_COMMENT_CLOSE = re.compile(r"\s*(?:\*+/|-->)$")
_DOTS = re.compile(r"\.{3,}|…")
_WORDS = frozenset(
    {
        *("rest", "remaining", "existing", "unchanged", "same", "omitted", "untouched", "elided", "other"),
        *("more", "lines", "line", "code", "of", "the", "file", "function", "method", "class", "body"),
        *("as", "before", "is", "are", "here", "keep", "kept", "and", "etc", "previous", "original"),
        *("stays", "stay", "implementation", "snip"),
    }
)
STRONG_WORDS = frozenset({"rest", "remaining", "existing", "unchanged", "omitted", "untouched", "elided"})


def _marker_words(line: str) -> tuple[bool, bool, set[str]] | None:
    """(is a comment, has dots, its words) when the line could be a marker, else None."""
    text = line.strip()
    if text in ("...", "…"):
        return False, True, set()
    opened = _COMMENT_OPEN.match(text)
    if not opened:
        return None
    body = _COMMENT_CLOSE.sub("", text[opened.end() :])
    dots = bool(_DOTS.search(body))
    rest = re.sub(r"[.…()\[\],:;\-\d]+", " ", body).lower()
    words = set(rest.split())
    if not words <= _WORDS or not (dots or words & STRONG_WORDS):
        return None
    return True, dots, words


def is_marker(line: str) -> bool:
    return _marker_words(line) is not None


def is_strong_marker(line: str) -> bool:
    """A comment that can only mean "code left out here" (`# ... rest unchanged`), never real code."""
    found = _marker_words(line)
    return found is not None and found[0] and bool(found[2] & STRONG_WORDS)


def new_only_marker(old: list[str], new: list[str]) -> str | None:
    """A `# ... rest unchanged` line of new that old does not have: the model left lines out of
    its replacement, and writing it as given would delete them."""
    known = {key(line) for line in old if is_strong_marker(line)}
    return next((line.strip() for line in new if is_strong_marker(line) and key(line) not in known), None)


def truncation_refusal(marker: str, what: str) -> str:
    return (
        f"{what} has the line {marker!r}: the code it stands for would be deleted, since new text is "
        "written as given. Write those lines out (or repeat the same marker line in the old text to "
        "keep them). Nothing was changed."
    )


def marker_positions(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if is_marker(line)]


def _strip_edge_markers(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and (is_marker(lines[start]) or not lines[start].strip()):
        start += 1
    while end > start and (is_marker(lines[end - 1]) or not lines[end - 1].strip()):
        end -= 1
    return lines[start:end]


def _pieces(lines: list[str]) -> tuple[list[list[str]], list[str]]:
    """The runs of lines between markers (blank lines next to a marker dropped), and the markers."""
    pieces: list[list[str]] = [[]]
    markers: list[str] = []
    for line in lines:
        if is_marker(line):
            markers.append(line)
            pieces.append([])
        else:
            pieces[-1].append(line)
    trimmed = [_trim_blank(p) for p in pieces]
    return trimmed, markers


def _trim_blank(piece: list[str]) -> list[str]:
    start, end = 0, len(piece)
    while start < end and not piece[start].strip():
        start += 1
    while end > start and not piece[end - 1].strip():
        end -= 1
    return piece[start:end]


def _same(a: str, b: str) -> bool:
    return key(a) == key(b)


def _chain(lines: list[str], pieces: list[list[str]], first: int) -> list[int] | None:
    """Where each piece starts when the first starts at `first` (each next piece: its first
    occurrence after the previous one)."""
    starts, pos = [first], first + len(pieces[0])
    for piece in pieces[1:]:
        found = windows(lines, piece, _same, lo=pos)
        if not found:
            return None
        starts.append(found[0])
        pos = found[0] + len(piece)
    return starts


def _gaps_ok(
    lines: list[str], pieces: list[list[str]], starts: list[int], markers: list[str], r: Reindent
) -> bool:
    for i, marker in enumerate(markers):
        gap = lines[starts[i] + len(pieces[i]) : starts[i + 1]]
        column = r.maps(indent_of(marker))
        if any(line.strip() and width(indent_of(line)) < column for line in gap):
            return False
        nxt = pieces[i + 1]
        if column == 0 and len(windows(lines, nxt, _same, lo=starts[i] + len(pieces[i]))) != 1:
            return False
    return True


def elision_match(lines: list[str], old: list[str], new: list[str], query: Query) -> list[Match]:
    """Every place the pieces of `old` match in order; the replacement keeps the elided lines."""
    old_pieces, markers = _pieces(_strip_edge_markers(old))
    new_pieces, new_markers = _pieces(_strip_edge_markers(new))
    if any(not piece for piece in old_pieces):
        return []
    placed: list[tuple[list[int], Reindent]] = []
    for first in windows(lines, old_pieces[0], _same):
        starts = _chain(lines, old_pieces, first)
        if starts is None:
            continue
        pairs = [
            (line, lines[s + k]) for p, s in zip(old_pieces, starts, strict=True) for k, line in enumerate(p)
        ]
        reindent = Reindent.fit(pairs)
        if reindent is not None and _gaps_ok(lines, old_pieces, starts, markers, reindent):
            placed.append((starts, reindent))
    if placed and len(new_markers) != len(markers):
        raise NoMatch(
            f"{query.what} leaves lines out with {markers[0].strip()!r} but the new text "
            + (
                "does not repeat it"
                if not new_markers
                else f"has {len(new_markers)} such lines, not {len(markers)}"
            )
            + ": put the same marker line in the new text where the left-out lines stay, or write them out. "
            "Nothing was changed."
        )
    return [_fill(lines, starts, reindent, old_pieces, new_pieces) for starts, reindent in placed]


def _fill(
    lines: list[str],
    starts: list[int],
    reindent: Reindent,
    old_pieces: list[list[str]],
    new_pieces: list[list[str]],
) -> Match:
    """The replacement: each piece merged where it was found, the elided lines kept in between."""
    out: list[str] = []
    for i, (start, old_piece, new_piece) in enumerate(zip(starts, old_pieces, new_pieces, strict=True)):
        if i:
            out.extend(lines[starts[i - 1] + len(old_pieces[i - 1]) : start])  # the elided lines
        out.extend(merge(lines[start : start + len(old_piece)], old_piece, new_piece, reindent))
    end = starts[-1] + len(old_pieces[-1])
    elided = end - starts[0] - sum(len(p) for p in old_pieces)
    note = f"kept the {elided} lines your '...' stands for" if len(old_pieces) > 1 else ""
    return Match(starts[0], end, out, "elision", note)
