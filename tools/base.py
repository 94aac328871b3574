"""The tool boundary. Every tool is one module holding an `Args` model and a `Tool` object.

A tool's JSON schema is always derived from its `Args` model; the arguments a model sends are
validated against exactly that schema before the tool runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.repo.journal import EditJournal
from agent.repo.languages import is_test_path
from sandbox.approval import ToolAwareSandbox
from sandbox.base import Sandbox

# What a call does, a property of each tool, read wherever it matters (the loop's checks and plan,
# the TUI's live diff, which edit tools a model gets): "read" looks (files, the web), "edit" changes
# files (the loop runs the tests after it), "run" runs commands (which may change anything), "finish"
# ends the run. An MCP server's tool is "read" when it says it is read-only, else "run".
ToolKind = Literal["read", "edit", "run", "finish"]


def may_change_code(kind: str | None, name: str) -> bool:
    """Whether a successful call may have changed the code: an edit, or a command (run_tests is the
    loop's own check of the code, not a change to it)."""
    return kind == "edit" or (kind == "run" and name != "run_tests")


class ToolArgs(BaseModel):
    """Base for tool argument models: unknown keys are errors the model must fix."""

    model_config = ConfigDict(extra="forbid")


class ToolResult(BaseModel):
    """`output` is what the model reads; `data` is structured detail for the UI and reports."""

    output: str
    ok: bool = True
    data: dict[str, Any] = {}


class ToolOutcome(BaseModel):
    """What one call produced. `error` is None on success, else one of the toolbox's
    ERROR_CATEGORIES (tools/registry.py)."""

    result: ToolResult
    error: str | None = None
    seconds: float = 0.0


class ToolError(Exception):
    """A failure the model can act on (file not found, search text not unique...).

    The loop turns it into an error observation for the model; it never ends the run.
    """


class NoChange(ToolError):
    """An edit that would leave the code exactly as it is (the new text is the old text).

    A small model sends one right after an edit it believes finished; the loop answers it with
    the tests' result on the code as it is (agent/loop/checks.py), not only with the refusal.
    """


def command_env_for(root: Path) -> dict[str, str]:
    """Extra environment for commands: the worktree's code is imported before any installed copy."""
    paths = [str(root / "src")] if (root / "src").is_dir() else []
    return {"PYTHONPATH": os.pathsep.join([*paths, str(root)])}


@dataclass
class ToolContext:
    """What a tool may touch: the worktree root, the sandbox for commands, shared settings."""

    root: Path
    sandbox: Sandbox
    test_command: str | None = None
    command_timeout: float = 120.0
    output_limit: int = 12_000  # characters of command output shown to the model
    edits: EditJournal = field(default_factory=EditJournal)  # every file change, in order
    cache: dict[str, Any] = field(default_factory=dict)  # per-run memo (e.g. the test interpreter)
    # the interpreter run_tests runs pytest with, found before the run (agent/repo/python_env.py);
    # None: found on first use among PATH's pythons and ours
    python: str | None = None
    writable: bool = True  # False under the read-only sandbox policy: file tools refuse to write
    # `agent fix` keeps the repository's existing tests as they are (they say what the fixed code
    # must do); new test files may be written. `--edit-tests` turns this off.
    protect_tests: bool = False

    def protected(self, rel: str) -> bool:
        """A test file the tools may not change in this run, if it exists (callers know whether it
        does: a new test file may be written)."""
        return self.protect_tests and is_test_path(rel)

    def sandbox_for(self, tool: str) -> Sandbox:
        """The sandbox, told which tool runs the command (an approval layer shows it)."""
        return self.sandbox.for_tool(tool) if isinstance(self.sandbox, ToolAwareSandbox) else self.sandbox

    def command_env(self) -> dict[str, str]:
        return command_env_for(self.root)

    def resolve(self, path: str) -> Path:
        """Resolve a model-given path inside the worktree, refusing anything outside it.

        `..` that leaves the worktree, absolute paths elsewhere, and symlinks (anywhere along the
        path) whose target lies outside are all refused, each with the reason.
        """
        root = self.root.resolve()
        if "\0" in path:
            raise ToolError("the path contains a NUL character; use a plain relative path")
        given = Path(path)
        try:
            candidate = (given if given.is_absolute() else root / given).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
            raise ToolError(f"cannot resolve path {path!r}: {exc}") from exc
        if candidate == root or root in candidate.parents:
            return candidate
        raise ToolError(
            f"path {path!r} is outside the repository ({_escape_reason(root, given)}); "
            "use a path relative to the repository root"
        )

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()


def _escape_reason(root: Path, given: Path) -> str:
    if given.is_absolute():
        return "an absolute path outside it"
    current = root
    for part in given.parts:
        current = current.parent if part == ".." else current / part
        if part != ".." and current.is_symlink():
            target = current.resolve()
            if target != root and root not in target.parents:
                shown = current.relative_to(root).as_posix() if root in current.parents else str(current)
                return f"{shown} is a symlink to {target}"
    return "'..' leads out of it"


class Tool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ToolKind: ...

    @property
    def description(self) -> str: ...  # what the model reads: short, imperative

    @property
    def args_model(self) -> type[ToolArgs]: ...

    def run(self, args: Any, ctx: ToolContext) -> ToolResult: ...


class SchemaTool(Protocol):
    """A tool whose JSON schema is given rather than derived (an MCP server's tool).

    `call` receives arguments already validated against exactly `parameters`.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ToolKind: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    def call(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult: ...
