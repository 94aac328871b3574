"""Capped command output: the head and the tail are kept, the middle is elided with a count."""

from __future__ import annotations


class CappedOutput:
    """Collects bytes incrementally without ever holding more than `limit` characters' worth."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 200)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        half = self.limit // 2
        room = half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > half:
                del self._tail[: len(self._tail) - half]

    @property
    def elided(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.elided <= 0:
            return head + tail
        return f"{head}\n... [{self.elided} bytes of output elided] ...\n{tail}"


def cap_text(text: str, limit: int) -> str:
    """The same head-and-tail rule for text already in memory."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - 2 * half} characters elided] ...\n{text[-half:]}"
