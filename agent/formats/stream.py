"""Streaming model text to the user while watching for markers (call openers, stop strings)."""

from __future__ import annotations

from collections.abc import Sequence


class StreamSplitter:
    """Streams text that is safe to show while watching for markers split across chunks.

    It holds back any tail that could be the start of a call opener (e.g. `<tool_call>`) or
    of a stop string. Once an opener appears `in_call` is set (and `opener` names it); once a stop
    string appears `stopped` is set; either way nothing more is shown.
    """

    def __init__(self, stops: Sequence[str] = (), opens: Sequence[str] = ()) -> None:
        self._opens = tuple(o for o in opens if o)
        self._markers = (*self._opens, *[s for s in stops if s])
        self._pending = ""
        self.in_call = False
        self.stopped = False
        self.opener = ""  # the opener found, once `in_call`
        self.marker = ""  # the marker found (an opener or a stop string)
        self.rest = ""  # what followed the marker in the text fed so far

    @property
    def done(self) -> bool:
        return self.in_call or self.stopped

    def feed(self, chunk: str) -> str:
        """The part of everything fed so far that is now safe to show and was not shown yet."""
        if self.done:
            return ""
        self._pending += chunk
        found = [(self._pending.find(m), m) for m in self._markers if m in self._pending]
        if found:
            at, marker = min(found)
            self.in_call = marker in self._opens
            self.stopped = not self.in_call
            self.opener = marker if self.in_call else ""
            self.marker = marker
            shown, self.rest = self._pending[:at], self._pending[at + len(marker) :]
            self._pending = ""
            return shown
        keep = max((_partial_suffix(self._pending, m) for m in self._markers), default=0)
        shown = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return shown

    def flush(self) -> str:
        """At the end of the stream: a held-back tail that turned out not to be a marker."""
        shown, self._pending = ("" if self.done else self._pending), ""
        return shown


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
REASONING_TAGS = {THINK_OPEN: THINK_CLOSE, "[THINK]": "[/THINK]"}  # opening tag -> closing tag


class ReplySplitter:
    """Splits a streamed reply into reasoning, visible text, and the point where a call opens.

    Reasoning is the text inside `<think>...</think>` (or `[THINK]...[/THINK]`): from the start
    when the generation prompt already opened it (`thinking_open`; a repeated opening tag is then
    dropped), or when the reply begins with an opening tag. After it, the text streams until one
    of `triggers` (a call opens) or one of `stops` appears.
    """

    def __init__(self, triggers: Sequence[str], stops: Sequence[str], thinking_open: bool = False) -> None:
        self._triggers, self._stops = tuple(triggers), tuple(stops)
        self._state = "start"
        self._thinking_open = thinking_open
        self._head = ""
        self._closer = THINK_CLOSE
        self._thinking = StreamSplitter(stops=(THINK_CLOSE, *self._stops))
        self._text = StreamSplitter(stops=self._stops, opens=self._triggers)
        self.thinking = ""
        self.text = ""
        self.thought = False  # the reasoning was closed by its tag (the text goes on after it)

    @property
    def done(self) -> bool:
        return self._text.done or (self._thinking.stopped and self._thinking.marker != self._closer)

    @property
    def in_call(self) -> bool:
        return self._text.in_call

    @property
    def opener(self) -> str:
        return self._text.opener

    @property
    def in_thinking(self) -> bool:
        return self._state == "thinking"

    def feed(self, chunk: str) -> list[tuple[str, str]]:
        """New ("thinking" | "text", piece) pairs safe to show, in order."""
        out: list[tuple[str, str]] = []
        self._route(chunk, out)
        return out

    def flush(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self._state == "start" and self._head:
            head, self._head = self._head, ""
            self._state = "thinking" if self._thinking_open else "text"
            self._route(head, out)
        if self._state == "thinking":
            self._emit(out, "thinking", self._thinking.flush())
        elif self._state == "text":
            self._emit(out, "text", self._text.flush())
        return out

    def _route(self, chunk: str, out: list[tuple[str, str]]) -> None:
        if self._state == "start":
            self._head += chunk
            head = self._head.lstrip()
            if any(len(head) < len(o) and o.startswith(head) for o in REASONING_TAGS):
                return  # could still become an opening tag
            chunk, self._head = self._head, ""
            opener = next((o for o in REASONING_TAGS if head.startswith(o)), None)
            if opener is not None:
                self._state, chunk = "thinking", head[len(opener) :]
                self._closer = REASONING_TAGS[opener]
                self._thinking = StreamSplitter(stops=(self._closer, *self._stops))
            else:
                self._state = "thinking" if self._thinking_open else "text"
        if self._state == "thinking":
            self._emit(out, "thinking", self._thinking.feed(chunk))
            if self._thinking.stopped:
                if self._thinking.marker != self._closer:
                    self._state = "done"
                    return
                self._state, chunk = "text", self._thinking.rest.lstrip("\n")
                self.thought = True
            else:
                return
        if self._state == "text":
            self._route_text(chunk, out)

    def _route_text(self, chunk: str, out: list[tuple[str, str]]) -> None:
        self._emit(out, "text", self._text.feed(chunk))
        if self._text.done:
            self._state = "done"

    def _emit(self, out: list[tuple[str, str]], kind: str, piece: str) -> None:
        if not piece:
            return
        if kind == "thinking":
            self.thinking += piece
        else:
            self.text += piece
        out.append((kind, piece))
