"""`repo_context`, the tool `agent mcp serve` offers besides ours: the project's instructions (AGENTS.md)
and the ranked pack of the files most related to a task, within a token budget, as a run starts from.

Token counts here are estimates (4 characters a token): no model is loaded to serve.
"""

from __future__ import annotations

from pydantic import Field

from agent.config import user_config_dir
from agent.context import pack_context
from agent.run.instruction_prompt import build_block
from agent.run.instructions import discover
from tools.base import ToolArgs, ToolContext, ToolKind, ToolResult


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class RepoContextArgs(ToolArgs):
    task: str = Field(description="the issue or question, in words: files are ranked by it")
    budget_tokens: int = Field(8000, ge=500, le=200_000, description="size of the pack, in tokens")


class RepoContext:
    name = "repo_context"
    kind: ToolKind = "read"
    description = (
        "The repository's project instructions (AGENTS.md) and the files most related to a task, "
        "ranked and packed within a token budget, with line numbers."
    )
    args_model = RepoContextArgs

    def run(self, args: RepoContextArgs, ctx: ToolContext) -> ToolResult:
        block = build_block(discover(ctx.root, user_config_dir()), args.budget_tokens // 4, estimate_tokens)
        budget = max(args.budget_tokens - block.tokens, 0)
        pack = pack_context(ctx.root, args.task, budget, estimate_tokens)
        text = "\n\n".join(part for part in (block.text, pack) if part)
        return ToolResult(output=text or "(empty repository)", data={"instructions": block.manifest()})
