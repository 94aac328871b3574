"""create_file: write a new file (or replace a whole file when asked to)."""

from __future__ import annotations

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    content: str = Field(description="the whole content of the file")
    overwrite: bool = Field(False, description="replace the file if it exists")


class CreateFile:
    name = "create_file"
    description = "Create a file with the given content (overwrite=true replaces an existing file)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = ctx.resolve(args.path)
        if path.is_dir():
            raise ToolError(f"{args.path} is a directory")
        before = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        if before is not None and not args.overwrite:
            raise ToolError(f"{args.path} already exists; use edit_file, or overwrite=true to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        content = args.content if args.content.endswith("\n") or not args.content else args.content + "\n"
        path.write_text(content, encoding="utf-8")
        rel = ctx.relative(path)
        ctx.edits.append({"tool": self.name, "path": rel, "before": before, "after": content})
        verb = "replaced" if before is not None else "created"
        return ToolResult(output=f"{verb} {rel} ({len(content.splitlines())} lines)", data={"path": rel})


TOOL = CreateFile()
