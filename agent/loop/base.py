"""What the loop acts on: the tools (bound to the context they run in) and the worktree it edits.

Both are boundaries: the loop sees a `Toolset` and a `Worktree`, never the registry or git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agent.messages import ToolCall, ToolSpec
from agent.repo.journal import EditRecord
from tools.base import ToolContext, ToolOutcome, ToolResult


class Outcome(Protocol):
    """What one tool call produced (tools/base.py `ToolOutcome`)."""

    result: ToolResult
    error: str | None
    seconds: float


class Toolset(Protocol):
    def specs(self) -> list[ToolSpec]: ...

    def kind(self, name: str) -> str | None: ...  # the tool's `ToolKind` (tools/base.py); None: unknown

    # `specs()` narrowed for the call grammar to the repository as it is (tools/grounding.py)
    # `barred`: per file, the lines an edit's old text may not hold
    def grounded_specs(
        self, ctx: ToolContext, barred: Mapping[str, set[int]] | None = None
    ) -> list[ToolSpec]: ...

    def call(self, call: ToolCall, ctx: ToolContext) -> Any: ...  # returns an `Outcome`


class Worktree(Protocol):
    """The tree the run edits, as attempts see it (agent/run/fix.py gives the agent's git worktree)."""

    def has_changes(self) -> bool: ...

    def set_aside(self) -> str:
        """Put the tree back as it was; the diff it removed."""
        ...

    def code_version(self) -> str:
        """A key of the code's current content (edits that go back and forth are caught by it)."""
        ...

    def restore(self, diff: str) -> None:
        """Apply a diff set aside before (the best attempt's change is what the run leaves)."""
        ...

    def changes(self) -> list[tuple[str, str | None, str | None]]:
        """(path, text before, text now) of each file the change touches (None: absent or binary)."""
        ...

    def keep(self) -> None:
        """What the tree holds now stays in every later attempt (a verified reproduction test):
        `set_aside` goes back to it from then on."""
        ...


@dataclass(frozen=True)
class Tools:
    """The toolset bound to its context (the repository, the sandbox, the edit journal), and the
    toolset holding write_code alone, for the repair phase (without it there is none)."""

    toolset: Toolset
    ctx: ToolContext
    code_writer: Toolset | None = None

    def call(self, call: ToolCall) -> Outcome:
        outcome: Outcome = self.toolset.call(call, self.ctx)
        return outcome

    def write_code(self, call: ToolCall) -> ToolOutcome:
        assert self.code_writer is not None
        outcome: ToolOutcome = self.code_writer.call(call, self.ctx)
        return outcome

    def grounded_specs(self, barred: Mapping[str, set[int]]) -> list[ToolSpec]:
        return self.toolset.grounded_specs(self.ctx, barred)

    def kind(self, name: str) -> str | None:
        """What the tool called `name` does: "read", "edit", "run", "finish" (None: no such tool)."""
        return self.toolset.kind(name)

    def edit_count(self) -> int:
        """The file changes made so far and not undone."""
        return len(self.ctx.edits.pending())

    def last_edits(self, count: int) -> list[EditRecord]:
        """The last `count` file changes."""
        return self.ctx.edits.pending()[-count:] if count >= 1 else []

    def undo_edits(self, count: int) -> None:
        """Take back the last `count` file changes (`UndoError`: changed behind the journal's back)."""
        self.ctx.edits.undo(self.ctx.root, count)
