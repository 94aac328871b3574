"""The changes view: the agent's diff, highlighted, per file, with accept / reject / keep-branch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.message import Message
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

_FILE_HEADER = re.compile(r"^diff --git a/(.+?) b/(.+)$")
ALL_FILES = "*"


@dataclass
class FileDiff:
    path: str
    lines: list[str]

    @property
    def counts(self) -> tuple[int, int]:
        added = sum(1 for line in self.lines if line.startswith("+") and not line.startswith("+++ "))
        removed = sum(1 for line in self.lines if line.startswith("-") and not line.startswith("--- "))
        return added, removed


def split_diff(diff: str) -> list[FileDiff]:
    """A unified git diff, one entry per file, in order."""
    files: list[FileDiff] = []
    for line in diff.splitlines():
        match = _FILE_HEADER.match(line)
        if match:
            files.append(FileDiff(path=match.group(2), lines=[line]))
        elif files:
            files[-1].lines.append(line)
    return files


def _is_code(line: str) -> bool:
    return line[:1] in {"+", "-", " "} and not line.startswith(("+++ ", "--- "))


def render_file(diff: FileDiff) -> Content:
    """The file's diff with the code syntax-highlighted for its language, +/- lines tinted."""
    code_at = [i for i, line in enumerate(diff.lines) if _is_code(line)]
    code = highlight("\n".join(diff.lines[i][1:] for i in code_at), path=diff.path).split("\n")
    highlighted = dict(zip(code_at, code, strict=False))
    out: list[Content] = []
    for index, line in enumerate(diff.lines):
        if index in highlighted:
            marker = line[:1]
            tint = {"+": "on $success-muted", "-": "on $error-muted"}.get(marker, "")
            text = Content.assemble((marker, "bold"), highlighted[index])
            out.append(text.stylize_before(tint) if tint else text)
        elif line.startswith("@@"):
            out.append(Content.styled(line, "$text-accent"))
        else:
            out.append(Content.styled(line, "bold $text-muted"))
    return Content("\n").join(out)


class ChangesView(Vertical):
    """The diff and what to do with it. Posts `ChangesView.Decided` when the user picks an action."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('accept')", "Accept"),
        Binding("r", "decide('reject')", "Reject"),
        Binding("k", "decide('keep')", "Keep branch"),
    ]

    class Decided(Message):
        def __init__(self, action: str) -> None:
            super().__init__()
            self.action = action  # "accept", "reject", "keep"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.files: list[FileDiff] = []
        self.branch: str | None = None
        self.final = False  # the run is over: the diff is the branch's, the actions apply

    def compose(self) -> ComposeResult:
        yield Static("No changes yet.", id="changes-title")
        with Horizontal(id="changes-body"):
            yield OptionList(id="changes-files")
            with VerticalScroll(id="changes-diff"):
                yield Static("", id="diff-text")
        with Horizontal(id="changes-actions"):
            yield Button("Accept (a)", id="accept", variant="success", disabled=True, compact=True)
            yield Button("Reject (r)", id="reject", variant="error", disabled=True, compact=True)
            yield Button("Keep branch (k)", id="keep", variant="primary", disabled=True, compact=True)

    def show_diff(self, diff: str, branch: str | None, final: bool) -> None:
        self.files = split_diff(diff)
        self.branch = branch
        self.final = final
        options = self.query_one("#changes-files", OptionList)
        options.clear_options()
        if self.files:
            total = len(self.files)
            options.add_option(Option(f"all files ({total})", id=ALL_FILES))
            for f in self.files:
                added, removed = f.counts
                options.add_option(Option(f"{f.path} +{added} -{removed}", id=f.path))
            options.highlighted = 0
        self._show(ALL_FILES)
        self._set_title()
        for button in self.query(Button):
            button.disabled = not (final and branch and self.files)

    def settled(self, message: str) -> None:
        """After an action: the diff stays visible, the actions are done."""
        self.final = False
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#changes-title", Static).update(Content.styled(message, "bold"))

    def _set_title(self) -> None:
        title = self.query_one("#changes-title", Static)
        if not self.files:
            title.update("No changes yet.")
        elif self.final and self.branch:
            title.update(
                Content.assemble(
                    ("Branch ", ""),
                    (self.branch, "bold $text-accent"),
                    " — accept applies it to your working tree",
                )
            )
        else:
            title.update(
                Content.styled("Live diff of the agent's worktree (the run is in progress)", "$text-warning")
            )

    def _show(self, path: str) -> None:
        shown = [f for f in self.files if path in (ALL_FILES, f.path)]
        text = Content("\n\n").join(render_file(f) for f in shown) if shown else Content("")
        self.query_one("#diff-text", Static).update(text)

    @on(OptionList.OptionHighlighted, "#changes-files")
    def _file_chosen(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option.id or ALL_FILES)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id:
            self.action_decide(event.button.id)

    def action_decide(self, action: str) -> None:
        if self.final and self.branch and self.files:
            self.post_message(self.Decided(action))
