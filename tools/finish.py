"""finish: declare the task done. The loop accepts it only once the change is verified."""

from __future__ import annotations

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult


class Args(ToolArgs):
    summary: str = Field(description="one sentence: what you changed and why")


class Finish:
    name = "finish"
    kind: ToolKind = "finish"
    description = "Call when the fix is done and the tests pass, with a one-sentence summary."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        if not args.summary.strip():
            raise ToolError("summary is empty: say in one sentence what you changed and why")
        return ToolResult(output="finish requested", data={"summary": args.summary})


TOOL = Finish()
