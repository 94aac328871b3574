"""create_file: write a new file (or replace a whole file when asked to).

A whole-file rewrite whose content has a comment like `# ... rest unchanged` that the file did not
have is refused: that is a truncated file, and writing it would delete the code it stands for.
"""

from __future__ import annotations

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.editing.changes import FileChange, commit, writable_path
from tools.editing.elision import new_only_marker
from tools.editing.textfile import read_disk_text, short_hash

__all__ = ["TOOL", "Args", "writable_path"]


class Args(ToolArgs):
    path: str = Field(description="file path relative to the repository root")
    content: str = Field(description="the whole content of the file")
    overwrite: bool = Field(False, description="replace the file if it already exists")


class CreateFile:
    name = "create_file"
    kind: ToolKind = "edit"
    description = "Create a file with the given content (overwrite=true replaces an existing file)."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        path = writable_path(ctx, args.path)
        before = read_disk_text(path, args.path) if path.is_file() else None
        if before is not None and not args.overwrite:
            raise ToolError(f"{args.path} already exists; use edit_file, or overwrite=true to replace it")
        content = args.content if args.content.endswith("\n") or not args.content else args.content + "\n"
        marker = new_only_marker(before.splitlines(), content.splitlines()) if before is not None else None
        if marker is not None:
            raise ToolError(
                f"content has the line {marker!r}: the whole file must be written out, or the lines it "
                "stands for are lost. Write every line, or change part of the file with edit_file. "
                "Nothing was changed."
            )
        rel = ctx.relative(path)
        change = FileChange(rel, path, before, content)
        commit(ctx, self.name, [change])
        verb = "replaced" if before is not None else "created"
        return ToolResult(
            output=f"{verb} {rel} ({len(content.splitlines())} lines, hash {short_hash(content)})"
            + "".join(f"\nnote: {note}" for note in change.notes),
            data={"path": rel, "created": before is None},
        )


TOOL = CreateFile()
