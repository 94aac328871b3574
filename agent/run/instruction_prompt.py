"""Project instructions in the prompt: their own block, within a token budget, never cut silently.

The user and root files go into the first prompt (`prompts/instructions.md`), with a list of the
nested files and the directories they cover. A nested file's text reaches the model the first time
it reads or edits a file under that directory: `NestedInstructions` wraps the toolset and appends
the text to that tool result (`prompts/nested_instructions.md`), so a small model sees the rules
for `pkg/api/` exactly when it works there, and never pays for directories it does not touch.

When the files do not fit the budget, whole lines are kept from the start of each file (the root
file first, then the user file), the block says how many lines were left out, and a notice names
what was kept; `InstructionsBlock.files` is the manifest `agent context --json` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

import prompts
from agent.messages import ToolCall, ToolSpec
from agent.run.instructions import InstructionFile, Kind, ProjectInstructions, discover
from tools.base import ToolContext, ToolError

CountTokens = Callable[[str], int]
PATH_TOOLS = frozenset({"read_file", "edit_file", "create_file"})


class ManifestEntry(BaseModel):
    path: str
    kind: Kind
    scope: str
    tokens: int  # the whole file, counted with the engine's tokenizer
    included: Literal["full", "partial", "left_out", "on_demand"]  # on_demand: nested, shown when used
    kept_lines: int
    total_lines: int


class InstructionsBlock(BaseModel):
    text: str = ""
    tokens: int = 0  # of the rendered block
    budget: int = 0
    files: list[ManifestEntry] = []
    notices: list[str] = []

    def manifest(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "budget": self.budget,
            "files": [f.model_dump() for f in self.files],
        }


def _head(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[:lines])


def _render(instr: ProjectInstructions, kept: dict[str, int]) -> str:
    files = []
    for f in instr.always:
        total = len(f.text.splitlines())
        scope = "your own instructions" if f.kind == "user" else "the whole repository"
        left_out = total - kept[f.path]
        files.append(
            {"path": f.path, "scope": scope, "text": _head(f.text, kept[f.path]), "left_out": left_out}
        )
    return prompts.render(
        "instructions",
        source=instr.name,
        has_user=any(f.kind == "user" for f in instr.always),
        files=files,
        nested=[{"path": n.path, "scope": n.scope} for n in instr.nested],
    )


def _fit_lines(total: int, fits: Callable[[int], bool]) -> int:
    """The most leading lines (0..total) for which `fits` holds; `fits` is monotone."""
    low, high = 0, total
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _fits(
    instr: ProjectInstructions, kept: dict[str, int], path: str, budget: int, count: CountTokens
) -> Callable[[int], bool]:
    def fits(lines: int) -> bool:
        return count(_render(instr, {**kept, path: lines})) <= budget

    return fits


def build_block(instr: ProjectInstructions, budget: int, count: CountTokens) -> InstructionsBlock:
    """The first prompt's instruction block within `budget` tokens, and its manifest."""
    if not instr.files:
        return InstructionsBlock(budget=budget)
    kept = {f.path: len(f.text.splitlines()) for f in instr.always}
    text = _render(instr, kept)
    if count(text) > budget:
        kept = dict.fromkeys(kept, 0)
        for f in sorted(instr.always, key=lambda f: f.kind != "root"):  # the root file first
            kept[f.path] = _fit_lines(len(f.text.splitlines()), _fits(instr, kept, f.path, budget, count))
        text = _render(instr, kept)
    block = InstructionsBlock(text=text, tokens=count(text), budget=budget)
    for f in instr.files:
        block.files.append(_entry(f, kept, count))
    block.notices = _notices(block)
    return block


def _entry(f: InstructionFile, kept: dict[str, int], count: CountTokens) -> ManifestEntry:
    total = len(f.text.splitlines())
    lines = kept.get(f.path, 0)
    if f.kind == "nested":
        included: Literal["full", "partial", "left_out", "on_demand"] = "on_demand"
    else:
        included = "full" if lines == total else "partial" if lines else "left_out"
    return ManifestEntry(
        path=f.path,
        kind=f.kind,
        scope=f.scope,
        tokens=count(f.text),
        included=included,
        kept_lines=lines,
        total_lines=total,
    )


def _notices(block: InstructionsBlock) -> list[str]:
    cut = [f for f in block.files if f.included in ("partial", "left_out")]
    if not cut:
        return []
    kept = "; ".join(
        f"{f.path}: kept lines 1-{f.kept_lines} of {f.total_lines}" if f.kept_lines else f"{f.path}: left out"
        for f in cut
    )
    whole = sum(f.tokens for f in block.files if f.kind != "nested")
    over = " (still over: even the file headers do not fit)" if block.tokens > block.budget else ""
    return [
        f"project instructions are {whole} tokens, over their budget of {block.budget} tokens{over}; "
        f"{kept}. Raise instructions_budget in the config (or use a model with a larger context) "
        "to include them whole."
    ]


def nested_text(f: InstructionFile, budget: int, count: CountTokens) -> tuple[str, int]:
    """A nested file's block for a tool result within `budget` tokens, and how many lines were cut."""
    total = len(f.text.splitlines())

    def render(lines: int) -> str:
        return prompts.render(
            "nested_instructions",
            path=f.path,
            scope=f.scope,
            text=_head(f.text, lines),
            left_out=total - lines,
        )

    lines = (
        total if count(render(total)) <= budget else _fit_lines(total, lambda n: count(render(n)) <= budget)
    )
    return render(lines), total - lines


class NestedInstructions:
    """Toolset wrapper: the first read or edit under a nested file's directory brings its text along."""

    def __init__(
        self,
        inner: Any,
        instructions: ProjectInstructions,
        budget: int,
        count: CountTokens,
        notify: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.inner = inner
        self.instructions = instructions
        self.budget = budget
        self.count = count
        self.notify = notify
        self.shown: list[str] = []

    def specs(self) -> list[ToolSpec]:
        return list(self.inner.specs())

    def kind(self, name: str) -> str | None:
        kind: str | None = self.inner.kind(name)
        return kind

    def grounded_specs(
        self, ctx: ToolContext, barred: Mapping[str, set[int]] | None = None
    ) -> list[ToolSpec]:
        return list(self.inner.grounded_specs(ctx, barred))

    def call(self, call: ToolCall, ctx: ToolContext) -> Any:
        outcome = self.inner.call(call, ctx)
        path = call.arguments.get("path") if call.name in PATH_TOOLS else None
        if outcome.error is not None or not isinstance(path, str):
            return outcome
        try:
            rel = ctx.resolve(path).relative_to(ctx.root.resolve()).as_posix()
        except (ToolError, ValueError):
            return outcome
        fresh = [f for f in self.instructions.chain(rel) if f.path not in self.shown]
        if not fresh:
            return outcome
        blocks = []
        for f in fresh:
            text, cut = nested_text(f, self.budget, self.count)
            blocks.append(text)
            self.shown.append(f.path)
            if cut:
                self.notify(f"{f.path}: {cut} lines left out to fit its budget of {self.budget} tokens")
        output = "\n\n".join([outcome.result.output, *blocks])
        return outcome.model_copy(update={"result": outcome.result.model_copy(update={"output": output})})


def instructions_manifest(
    root: Path, user_dir: Path | None, budget: int, count: CountTokens
) -> dict[str, Any]:
    """For `agent context --json`: which instruction files go in, their token counts, the block total."""
    return build_block(discover(root, user_dir), budget, count).manifest()
