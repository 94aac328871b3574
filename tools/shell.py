"""shell: run a command in the repository, through the sandbox."""

from __future__ import annotations

from pydantic import Field

from sandbox.output import cap_text
from tools.base import ToolArgs, ToolContext, ToolKind, ToolResult

MAX_TIMEOUT = 1800.0
LIMIT_NAMES = {
    "cpu": "CPU time",
    "file_size": "file size",
    "memory": "memory",
    "processes": "number of processes",
    "output": "output length (middle elided)",
}


class Args(ToolArgs):
    command: str = Field(description="a bash command, run in the repository root")
    timeout: float | None = Field(None, gt=0, description="seconds before the command is killed")


class Shell:
    name = "shell"
    kind: ToolKind = "run"
    description = "Run a bash command in the repository root (sandboxed, non-interactive, no stdin)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        timeout = min(args.timeout or ctx.command_timeout, MAX_TIMEOUT)
        result = ctx.sandbox_for(self.name).run(args.command, ctx.root, timeout, env=ctx.command_env())
        if result.timed_out:
            status = f"timed out after {timeout:g}s: the command and its children were killed"
        else:
            status = f"exit code {result.exit_code}"
        hit = [LIMIT_NAMES.get(name, name) for name in result.limits_hit if name != "timeout"]
        if hit:
            status += f"; limit hit: {', '.join(hit)}"
        body = cap_text(result.output, ctx.output_limit) if result.output.strip() else "(no output)"
        return ToolResult(
            output=f"[{status}]\n{body}",
            ok=result.ok,
            data={
                "exit_code": result.exit_code,
                "timed_out": result.timed_out,
                "seconds": result.seconds,
                "truncated_chars": result.truncated_chars,
                "limits_hit": result.limits_hit,
            },
        )


TOOL = Shell()
