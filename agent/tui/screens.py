"""Modal screens: keyboard help, a command approval, and the session picker."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from sandbox.approval import ApprovalRequest, Decision

KEYS: list[tuple[str, str]] = [
    ("enter", "send the task, or guidance while the agent works"),
    ("\\ then enter, ctrl+j", "new line in the prompt"),
    ("esc / ctrl+c", "interrupt the model (the session goes on: type guidance, enter resumes)"),
    ("ctrl+c (paused)", "end the run: the report and the branch are kept"),
    ("esc (idle)", "leave the prompt (then q quits, ? shows this help)"),
    ("ctrl+t", "switch between the conversation and the changes"),
    ("a / r / k", "changes: accept into your tree, reject (delete the branch), keep the branch"),
    ("tab / shift+tab", "move between the prompt, transcript and panels"),
    ("enter on ▶ rows", "expand thinking, arguments, long tool output"),
    ("ctrl+p", "command palette (themes, sessions, actions)"),
    ("ctrl+r", "reopen a recorded session"),
    ("q / ctrl+q", "quit (q outside the prompt)"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        rows = [Content.assemble((f"{key:<22}", "bold $text-accent"), what) for key, what in KEYS]
        with Vertical(id="help", classes="dialog"):
            yield Static(Content.styled("Keys", "bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(Content("\n").join(rows))
            yield Static(Content.styled("esc closes", "$text-muted"))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ApprovalScreen(ModalScreen[Decision]):
    """Asks whether a command may run. Esc denies."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('approve')", "Approve"),
        Binding("a", "answer('approve_always')", "Always"),
        Binding("n,escape", "answer('deny')", "Deny"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="approval", classes="dialog"):
            yield Static(
                Content.styled("The agent wants to run a command", "bold $text-warning"),
                classes="dialog-title",
            )
            yield Static(Content.assemble(("tool    ", "$text-muted"), r.tool))
            yield Static(Content.assemble(("command ", "$text-muted"), (r.command, "bold")))
            yield Static(Content.assemble(("in      ", "$text-muted"), r.cwd))
            yield Static(Content.assemble(("why     ", "$text-muted"), (r.reason, "$text-warning")))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Approve (y)", id="approve", variant="success", compact=True)
                yield Button("Always (a)", id="approve_always", variant="primary", compact=True)
                yield Button("Deny (n)", id="deny", variant="error", compact=True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id or "deny")

    def action_answer(self, decision: str) -> None:
        choice: Decision = (
            "approve"
            if decision == "approve"
            else ("approve_always" if decision == "approve_always" else "deny")
        )
        self.dismiss(choice)


class SessionPicker(ModalScreen[Path | None]):
    """Choose a recorded session to reopen; rows are (path, one-line description)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, sessions: list[tuple[Path, str]]) -> None:
        super().__init__()
        self.sessions = sessions

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Static(Content.styled("Reopen a session", "bold"), classes="dialog-title")
            if not self.sessions:
                yield Static("No recorded sessions in this repository yet.")
            yield OptionList(*[Option(text, id=str(path)) for path, text in self.sessions])

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id) if event.option.id else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
