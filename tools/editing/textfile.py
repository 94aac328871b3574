"""A text file as the edit tools see it: lines without their endings, each ending kept.

Edits replace runs of lines; untouched lines keep their own line endings (a file with mixed LF and
CRLF stays mixed), and new lines take the ending the file mostly uses. The short content hash is
what read_file shows and replace_lines checks. `readable_file` finds an existing text file for
reading or editing, or says why not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from agent.repo.files import close_names, is_binary, repo_files
from tools.base import ToolContext, ToolError

HASH_CHARS = 8
DIRECTORY_PREVIEW = 20


def short_hash(text: str) -> str:
    """The first hex digits of the SHA-256 of the file's bytes (UTF-8)."""
    return hash_bytes(text.encode("utf-8"))


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def read_disk_text(path: Path, shown_path: str) -> str:
    """The file's exact text (line endings untouched), or a ToolError when it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{shown_path} is not UTF-8 text; edit it with the shell tool instead") from exc
    except OSError as exc:
        raise ToolError(f"cannot read {shown_path}: {exc.strerror or exc}") from exc


def split_lines(text: str) -> list[str]:
    """Lines of model-written text without endings (CRLF counts as LF; a final newline adds no line)."""
    text = normalise_newlines(text)
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n")


@dataclass
class TextFile:
    lines: list[str]
    endings: list[str]  # one per line: "\n", "\r\n" or "" (a last line without a newline)

    @classmethod
    def parse(cls, text: str) -> TextFile:
        """Split on LF only (a CR before it belongs to the ending; form feeds and lone CRs are text)."""
        pieces = text.split("\n")
        lines, endings = [], []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if last and piece == "":
                break
            if not last and piece.endswith("\r"):
                lines.append(piece[:-1])
                endings.append("\r\n")
            else:
                lines.append(piece)
                endings.append("" if last else "\n")
        return cls(lines=lines, endings=endings)

    @property
    def newline(self) -> str:
        """The ending most lines use (LF for a file without any)."""
        crlf = sum(1 for e in self.endings if e == "\r\n")
        lf = sum(1 for e in self.endings if e == "\n")
        return "\r\n" if crlf > lf else "\n"

    def lf_text(self) -> str:
        """The text with every line ending written as LF."""
        return "\n".join(self.lines) + ("\n" if self.endings and self.endings[-1] else "")

    def render(self) -> str:
        return "".join(line + ending for line, ending in zip(self.lines, self.endings, strict=True))

    def replaced(self, start: int, end: int, new_lines: list[str]) -> TextFile:
        """A copy with lines [start, end) replaced by `new_lines`.

        New lines get the file's usual ending; a last line that had no newline still has none.
        """
        endings = [self.newline] * len(new_lines)
        if end >= len(self.lines) and new_lines and self.endings:
            endings[-1] = self.endings[-1]
        all_endings = self.endings[:start] + endings + self.endings[end:]
        for i in range(len(all_endings) - 1):  # only the last line may lack a newline
            all_endings[i] = all_endings[i] or self.newline
        return TextFile(lines=self.lines[:start] + new_lines + self.lines[end:], endings=all_endings)


def number_lines(lines: list[str], first: int) -> str:
    """`  12| code` style, right-aligned to the widest number shown."""
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{n:>{width}}| {line}" for n, line in enumerate(lines, first))


def missing_file_error(ctx: ToolContext, path: str) -> ToolError:
    close = close_names(path, repo_files(ctx.root), limit=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Use list_files to see the files."
    return ToolError(f"file not found: {path}.{hint}")


def directory_error(ctx: ToolContext, path: str, directory: Path) -> ToolError:
    rel = ctx.relative(directory)
    inside = [f for f in repo_files(ctx.root) if rel == "." or f.startswith(rel + "/")]
    preview = ", ".join(inside[:DIRECTORY_PREVIEW]) + (" ..." if len(inside) > DIRECTORY_PREVIEW else "")
    return ToolError(f"{path} is a directory, not a file. Files in it: {preview or '(none)'}")


def readable_file(ctx: ToolContext, path: str) -> Path:
    """The resolved path of an existing text file inside the repository, or a ToolError saying why not."""
    resolved = ctx.resolve(path)
    if resolved.is_dir():
        raise directory_error(ctx, path, resolved)
    if not resolved.is_file():
        raise missing_file_error(ctx, path)
    if is_binary(resolved):
        raise ToolError(f"{path} is a binary file; only text files can be read or edited")
    return resolved
