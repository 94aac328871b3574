"""create_file: write a new file (or replace a whole file when asked to)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    content: str = Field(description="the whole content of the file")
    overwrite: bool = Field(False, description="replace the file if it already exists")


def writable_path(ctx: ToolContext, path: str) -> Path:
    """A path inside the repository that is not git's own data, when the policy allows writes."""
    if not ctx.writable:
        raise ToolError("the sandbox policy is read-only: files cannot be changed in this run")
    resolved = ctx.resolve(path)
    if ".git" in resolved.relative_to(ctx.root.resolve()).parts:
        raise ToolError(f"{path} is inside .git; the agent may not write there")
    if resolved.is_dir():
        raise ToolError(f"{path} is a directory; give a file path")
    if resolved.is_file() and resolved.stat().st_nlink > 1:
        raise ToolError(f"{path} is a hard link shared with another file; the agent may not write it")
    return resolved


class CreateFile:
    name = "create_file"
    description = "Create a file with the given content (overwrite=true replaces an existing file)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = writable_path(ctx, args.path)
        before = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        if before is not None and not args.overwrite:
            raise ToolError(f"{args.path} already exists; use edit_file, or overwrite=true to replace it")
        content = args.content if args.content.endswith("\n") or not args.content else args.content + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"cannot write {args.path}: {exc.strerror or exc}") from exc
        rel = ctx.relative(path)
        ctx.edits.append({"tool": self.name, "path": rel, "before": before, "after": content})
        verb = "replaced" if before is not None else "created"
        return ToolResult(
            output=f"{verb} {rel} ({len(content.splitlines())} lines)",
            data={"path": rel, "created": before is None},
        )


TOOL = CreateFile()
