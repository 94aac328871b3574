"""Decode-time guard against an `edit_file` call whose `new_text` is its `old_text` again.

The small models' largest class of wasted calls (stop 18: 33 of a benchmark run's errors) was
an edit that changes nothing: the model copies `old_text` into `new_text` when it takes its fix
for done. Each costs a whole call (20-40 s on a CPU) before the tool can refuse it. Here the
closing quote of `new_text` is masked while what it would close on equals `old_text` up to
trailing whitespace, so the model has to write a change; the grammar still holds every other
token.

It works on the canonical JSON text the call grammar produces (`"old_text": "...", "new_text":
"...`, json.dumps spacing, schema key order), comparing the escaped forms. Formats that write
arguments otherwise (GLM's `<arg_value>` tags) never match its markers and pass untouched.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
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

    def __init__(self, cuts: dict[int, str], piece: Callable[[int], bytes]) -> None:
        self._cuts = cuts
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
        """The tokens that would close `new_text` on `old_text` again, after the call text so far."""
        at = text.rfind(NEW_KEY)
        if at == -1 or text[at - len(BETWEEN) : at] != BETWEEN:
            return []
        opened = text.rfind(OLD_KEY, 0, at)
        if opened == -1:
            return []
        old = core(text[opened + len(OLD_KEY) : at - len(BETWEEN)])
        new = text[at + len(NEW_KEY) :]
        if _closed(new) or _odd_backslashes(new):
            return []
        if len(new) <= len(old):
            if not old.startswith(new) or len(old) - len(new) > self._longest:
                return []
        elif core(new) != old:
            return []
        return [token for token, cut in self._cuts.items() if core(new + cut) == old]
