"""The matching ladder: where a block of lines the model quoted sits in a file, and what replaces it.

Used by edit_file (old_text / new_text) and by apply_patch (each hunk's old and new side). Rungs,
tried in order, each accepted only when it gives exactly one place:

1. exact: the lines as given.
2. whitespace: the same lines up to indentation and spacing, with one consistent indentation map
   (a shift, tabs for spaces, 2 for 4 columns); the replacement is re-indented to the file.
3. elision: `...`, `# ... rest unchanged` or `// ...` lines in old stand for lines left out; the
   pieces around them match in order and the elided lines are kept where new repeats the marker.
4. fuzzy: a block of the same length where all but a few lines match exactly, the whole is very
   similar (FUZZY_MIN), and no other place comes close (FUZZY_MARGIN).

Two places equally good, or a best place that is not good enough: `NoMatch`, with the candidates
shown as numbered lines. It never guesses; an edit never lands in the wrong place.
"""

from __future__ import annotations

from tools.editing.blocks import (
    Ambiguous,
    Match,
    NoMatch,
    Query,
    exact_candidates,
    quote_candidates,
    show,
    trim_blank_edges,
    whitespace_candidates,
)
from tools.editing.elision import elision_match, marker_positions
from tools.editing.fuzzy import FUZZY_MARGIN, FUZZY_MIN, closest_windows, fuzzy_match
from tools.editing.reindent import Reindent, conform, merge

CANDIDATES_SHOWN = 2

__all__ = ["Ambiguous", "Match", "NoMatch", "Query", "find_block"]


# ---- the ladder ---------------------------------------------------------------------------------


def choose(candidates: list[Match], query: Query) -> Match | None:
    """One candidate, or the one the patch's order or exact hunk header picks out."""
    if len(candidates) == 1:
        return candidates[0]
    later = [c for c in candidates if c.start >= query.after]
    if 0 < len(later) < len(candidates) and len(later) == 1:
        return later[0]
    if query.hint is not None:
        named = [c for c in candidates if c.start == query.hint]
        if len(named) == 1:
            return named[0]
    return None


def ambiguous(lines: list[str], candidates: list[Match], query: Query) -> Ambiguous:
    places = ", ".join(f"{c.start + 1}-{c.end}" for c in candidates[:6])
    more = " ..." if len(candidates) > 6 else ""
    shown = "\n".join(
        f"candidate {i} (lines {c.start + 1}-{c.end}):\n{show(lines, c.start, c.end)}"
        for i, c in enumerate(candidates[:CANDIDATES_SHOWN], 1)
    )
    return Ambiguous(
        f"{query.what} matches {len(candidates)} places in {query.path} (lines {places}{more}); "
        f"include more surrounding lines to make it unique. Nothing was changed.\n{shown}"
    )


def already_applied(lines: list[str], new: list[str]) -> int | None:
    """Where the replacement text already stands (indentation aside), if it is non-blank."""
    wanted = [line.strip() for line in new]
    while wanted and not wanted[0]:
        wanted.pop(0)
    while wanted and not wanted[-1]:
        wanted.pop()
    if sum(len(line) for line in wanted) < 16:  # too little text to say it is this change
        return None
    stripped = [line.strip() for line in lines]
    for start in range(len(stripped) - len(wanted) + 1):
        if stripped[start : start + len(wanted)] == wanted:
            return start
    return None


def not_found(lines: list[str], query: Query, scored: list[tuple[float, int]]) -> NoMatch:
    """The refusal when no rung found one place: the closest lines, and a rival if there is one."""
    if not query.explain:
        return NoMatch(f"{query.what} not found in {query.path}")
    applied = already_applied(lines, query.new)
    if applied is not None:
        return NoMatch(
            f"{query.what} not found in {query.path}, but the new text is already there (line "
            f"{applied + 1}): this change was made before. Nothing was changed. Run the tests, or "
            "make a different change.\n" + show(lines, applied, applied + max(1, len(query.new)))
        )
    head = (
        f"{query.what} not found in {query.path}; copy the lines exactly from read_file, without line numbers"
    )
    scored = scored or closest_windows(lines, query.old)
    if not scored:
        return NoMatch(head + ". Nothing was changed.")
    n = max(1, len(query.old))
    best_score, best = scored[0]
    rivals = [s for score, s in scored[1:] if s != best and best_score - score < FUZZY_MARGIN]
    why = (
        "two places are about equally close"
        if rivals and best_score >= FUZZY_MIN
        else f"the closest lines are {best_score:.0%} similar"
    )
    shown = [f"closest (lines {best + 1}-{best + n}):\n{show(lines, best, best + n)}"]
    shown += [f"also close (lines {s + 1}-{s + n}):\n{show(lines, s, s + n)}" for s in rivals[:1]]
    return NoMatch(f"{head}; {why}. Nothing was changed.\n" + "\n".join(shown))


def find_block(lines: list[str], query: Query) -> Match:
    """Where `query.old` is in `lines` and what replaces it (indented with the file's character,
    tabs or spaces); NoMatch when not exactly one place."""
    match = _find(lines, query)
    return Match(match.start, match.end, conform(lines, match.lines), match.rung, match.note)


def _find(lines: list[str], query: Query) -> Match:
    old, new = query.old, query.new
    if not any(line.strip() for line in old):
        raise NoMatch(f"{query.what} has no text to look for")
    exact = exact_candidates(lines, old)
    if exact:
        match = choose(exact, query)
        if match is None:
            raise ambiguous(lines, exact, query)
        return Match(match.start, match.end, list(new), "exact")
    old, new = trim_blank_edges(old, new)
    trimmed = query.with_lines(old, new)
    loose = [
        Match(s, s + len(old), merge(lines[s : s + len(old)], old, new, r), "whitespace", _ws_note(r))
        for s, r in whitespace_candidates(lines, old)
    ]
    if loose:
        match = choose(loose, trimmed)
        if match is None:
            raise ambiguous(lines, loose, trimmed)
        return match
    if any("'" in line or '"' in line for line in old):
        quoted = [
            Match(s, s + len(old), merge(lines[s : s + len(old)], old, new, r), "quotes", QUOTES_NOTE)
            for s, r in quote_candidates(lines, old)
        ]
        if quoted:
            match = choose(quoted, trimmed)
            if match is None:
                raise ambiguous(lines, quoted, trimmed)
            return match
    if marker_positions(old):  # a block with left-out lines is never matched fuzzily
        elided = elision_match(lines, old, new, trimmed)
        match = choose(elided, trimmed) if elided else None
        if elided and match is None:
            raise ambiguous(lines, elided, trimmed)
        if match is None:
            raise not_found(lines, trimmed, [])
        return match
    fuzzy, scored = fuzzy_match(lines, trimmed) if query.fuzzy else (None, [])
    if fuzzy is not None:
        return fuzzy
    raise not_found(lines, trimmed, scored)


QUOTES_NOTE = "matched taking ' and \" as the same quote; your new text was used as written"


def _ws_note(reindent: Reindent) -> str:
    return "" if reindent.identity else "matched ignoring indentation; your new text was re-indented to fit"
