"""Capped command output: the head and the tail are kept, the middle is elided with a count.

Output is decoded incrementally (UTF-8, invalid bytes replaced) and never held beyond about
`limit` characters, so a command printing gigabytes costs no memory.
"""

from __future__ import annotations

import codecs

MIN_LIMIT = 200


def elision_marker(count: int) -> str:
    return f"\n... [{count} characters elided] ...\n"


class CappedOutput:
    """Collects a byte stream; keeps the first and last `limit // 2` characters and a total count."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, MIN_LIMIT)
        self._half = self.limit // 2
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self.total = 0  # characters seen

    def feed(self, chunk: bytes, final: bool = False) -> None:
        text = self._decoder.decode(chunk, final)
        self.total += len(text)
        room = self._half - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += len(text[:room])
            text = text[room:]
        if text:
            self._tail += text
            if len(self._tail) > 2 * self._half:  # trim in batches: amortised O(1) per char
                self._tail = self._tail[-self._half :]

    def close(self) -> None:
        """Flush a trailing partial UTF-8 sequence (as a replacement character)."""
        self.feed(b"", final=True)

    @property
    def elided(self) -> int:
        return max(self.total - self._head_len - min(len(self._tail), self._half), 0)

    def text(self) -> str:
        head = "".join(self._head)
        tail = self._tail[-self._half :] if self._tail else ""
        if self.elided == 0:
            return head + tail
        return head + elision_marker(self.elided) + tail


def cap_text(text: str, limit: int) -> str:
    """The same head-and-tail rule for text already in memory."""
    limit = max(limit, MIN_LIMIT)
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + elision_marker(len(text) - 2 * half) + text[-half:]
