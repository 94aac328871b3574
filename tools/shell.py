"""shell: run a command in the repository, through the sandbox."""

from __future__ import annotations

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolResult

MAX_TIMEOUT = 1800.0


class Args(ToolArgs):
    command: str = Field(description="a bash command, run in the repository root")
    timeout: float | None = Field(None, gt=0, description="seconds before the command is killed")


class Shell:
    name = "shell"
    description = "Run a bash command in the repository root (sandboxed, non-interactive)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        timeout = min(args.timeout or ctx.command_timeout, MAX_TIMEOUT)
        result = ctx.sandbox.run(args.command, ctx.root, timeout, env=ctx.command_env())
        status = (
            f"timed out after {timeout:.0f}s (killed)"
            if result.timed_out
            else f"exit code {result.exit_code}"
        )
        body = result.output if result.output.strip() else "(no output)"
        return ToolResult(
            output=f"[{status}]\n{body}",
            ok=result.ok,
            data={"exit_code": result.exit_code, "timed_out": result.timed_out, "seconds": result.seconds},
        )


TOOL = Shell()
