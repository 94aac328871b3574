"""The prompt: multi-line input for a task or for guidance while the agent works.

Enter sends. A new line: ctrl+j, shift+enter or alt+enter where the terminal reports them, or a
backslash at the end of the line then enter (works in every terminal, also over SSH).
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"})
MAX_LINES = 6


class PromptInput(TextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]

    async def _on_key(self, event: events.Key) -> None:
        if event.key in NEWLINE_KEYS:
            self._stop(event)
            self.insert("\n")
        elif event.key == "enter":
            self._stop(event)
            self._enter()
        else:
            await super()._on_key(event)
        self._fit()

    def _enter(self) -> None:
        row, col = self.cursor_location
        line = self.document.get_line(row)
        if col > 0 and line[:col].endswith("\\"):
            self.replace("\n", (row, col - 1), (row, col))
            return
        text = self.text.strip()
        self.clear()
        self.post_message(self.Submitted(text))

    def _fit(self) -> None:
        self.styles.height = min(max(self.document.line_count, 1), MAX_LINES) + 2

    @staticmethod
    def _stop(event: events.Key) -> None:
        event.stop()
        event.prevent_default()
