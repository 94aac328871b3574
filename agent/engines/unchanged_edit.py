"""Decode-time guard against an `edit_file` call whose `new_text` is its `old_text` again, or
an edit the loop has tried on this code already and found no better.

The small models' largest class of wasted calls (stop 18: 33 of a benchmark run's errors) was
an edit that changes nothing: the model copies `old_text` into `new_text` when it takes its fix
for done. Each costs a whole call (20-40 s on a CPU) before the tool can refuse it. Here the
closing quote of `new_text` is masked while what it would close on equals `old_text` up to
trailing whitespace, so the model has to write a change; the grammar still holds every other
token.

The same mask keeps out an edit already tried (`ChatOptions.avoid_edits`): after a turn whose
edits all changed nothing, the 1.5B model's next reply was the same call again, turn after turn,
and its draws at a temperature were mostly that call too. Those pairs match with leading and
trailing whitespace ignored on both sides.

It works on the canonical JSON text the call grammar produces (`"old_text": "...", "new_text":
"...`, json.dumps spacing, schema key order), comparing the escaped forms. Formats that write
arguments otherwise (GLM's `<arg_value>` tags) never match its markers and pass untouched.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

OLD_KEY = '"old_text": "'
NEW_KEY = '"new_text": "'
BETWEEN = '", '  # what comes between old_text's closing quote and NEW_KEY
ESCAPED_BLANKS = "ntr"  # \n \t \r: JSON escapes of whitespace


def _odd_backslashes(text: str) -> bool:
    """`text` ends on an odd run of backslashes: the next character is escaped."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def core(escaped: str) -> str:
    """A JSON string's escaped text without trailing whitespace (spaces and \\n \\t \\r escapes)."""
    while True:
        text = escaped.rstrip(" ")
        if len(text) >= 2 and text[-1] in ESCAPED_BLANKS and _odd_backslashes(text[:-1]):
            text = text[:-2]
        if text == escaped:
            return text
        escaped = text


def _unindented(escaped: str) -> str:
    """A JSON string's escaped text without leading whitespace."""
    while True:
        text = escaped.lstrip(" ")
        if len(text) >= 2 and text[0] == "\\" and text[1] in ESCAPED_BLANKS:
            text = text[2:]
        if text == escaped:
            return text
        escaped = text


def bare(escaped: str) -> str:
    """`core` with leading whitespace dropped too."""
    return core(_unindented(escaped))


def json_inside(text: str) -> str:
    """`text` as the inside of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def avoid_table(pairs: Sequence[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """bare escaped old_text -> the bare escaped new_texts not to close on after it."""
    table: dict[str, set[str]] = {}
    for old, new in pairs:
        table.setdefault(bare(json_inside(old)), set()).add(bare(json_inside(new)))
    return {old: frozenset(news) for old, news in table.items()}


def _may_close_on(new: str, target: str, reach: int) -> bool:
    """A string written `new` so far can still close on `target` (up to trailing whitespace)
    within one token of at most `reach` characters."""
    if len(new) <= len(target):
        return target.startswith(new) and len(target) - len(new) <= reach
    return core(new) == target


def closing_cut(piece: str) -> str | None:
    """The text of a token before its first quote that closes a JSON string (the string so far
    ending on no pending backslash); None: the token closes none."""
    for at, char in enumerate(piece):
        if char == '"' and not _odd_backslashes(piece[:at]):
            return piece[:at]
    return None


def closing_cuts(pieces: Iterable[tuple[int, bytes]]) -> dict[int, str]:
    """token -> its text before the quote it would close a string with, for every such token."""
    cuts: dict[int, str] = {}
    for token, piece in pieces:
        if b'"' not in piece:
            continue
        cut = closing_cut(piece.decode("utf-8", errors="replace"))
        if cut is not None:
            cuts[token] = cut
    return cuts


def _closed(escaped: str) -> bool:
    """The string whose escaped text starts `escaped` has closed in it."""
    return closing_cut(escaped) is not None


class UnchangedEditGuard:
    """A llama-cpp-python logits processor for one constrained call pass (see the module doc)."""

    def __init__(
        self,
        cuts: dict[int, str],
        piece: Callable[[int], bytes],
        avoid: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._cuts = cuts
        self._avoid = avoid_table(avoid)
        self._longest = max((len(c) for c in cuts.values()), default=0)
        self._piece = piece
        self._start: int | None = None
        self._seen = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        self._text = ""
        self.blocked = 0  # steps at which it masked a closing quote (for tests and logs)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._start is None:
            self._start = len(input_ids)
        for token in input_ids[self._start + self._seen :]:
            self._text += self._decoder.decode(self._piece(int(token)))
            self._seen += 1
        masked = self.forbidden(self._text)
        if masked:
            keep = scores[masked].copy()
            scores[masked] = -np.inf
            if not np.isfinite(scores).any():  # nothing else the grammar allows: let it close
                scores[masked] = keep
            else:
                self.blocked += 1
        return scores

    def forbidden(self, text: str) -> list[int]:
        """The tokens that would close `new_text` on `old_text` again, or on a `new_text` to
        avoid after that `old_text`, after the call text so far."""
        at = text.rfind(NEW_KEY)
        if at == -1 or text[at - len(BETWEEN) : at] != BETWEEN:
            return []
        opened = text.rfind(OLD_KEY, 0, at)
        if opened == -1:
            return []
        old_text = text[opened + len(OLD_KEY) : at - len(BETWEEN)]
        new = text[at + len(NEW_KEY) :]
        if _closed(new) or _odd_backslashes(new):
            return []
        old = core(old_text)
        same = _may_close_on(new, old, self._longest)
        lead = _unindented(new)
        avoided = {a for a in self._avoid.get(bare(old_text), ()) if _may_close_on(lead, a, self._longest)}
        if not same and not avoided:
            return []
        return [
            token
            for token, cut in self._cuts.items()
            if (same and core(new + cut) == old) or (avoided and bare(new + cut) in avoided)
        ]
