"""Fenced code blocks in a model's reply (the repair and reproduction phases read them).

Code blocks: a block opens with a line of three or more backticks (or tildes) and an optional
language, and closes with a line of the same fence; a block still open when the reply ends (cut at
a stop or a token limit) counts up to the end. The file a block is for may be named on the
(non-blank) line before it (`In timeutil/duration.py:`) or in its first line
(`# timeutil/duration.py`); `path` holds what looks like a file name there, for write_code to check
against the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n`]*$")
_FILE_NAME = re.compile(r"[\w./-]*\w\.[A-Za-z]\w{0,5}\b")
_FIRST_LINE_NAME = re.compile(r"^\s*(?:#|//|--|/\*)\s*(?:file:?\s*)?([\w./-]+\.\w+)\s*(?:\*/)?\s*$", re.I)
# what the fence's info string says for code we would never merge into a source file
NOT_CODE = frozenset(
    {"bash", "sh", "shell", "console", "zsh", "powershell", "text", "txt", "output", "diff", "patch"}
)


@dataclass(frozen=True)
class CodeBlock:
    code: str
    language: str  # the fence's info string, lower-cased ("" when none)
    path: str | None  # a file name written just before the block or in its first line
    closed: bool = True  # False: the reply ended inside it

    @property
    def is_code(self) -> bool:
        """A block of program text (not a shell session, output or a diff)."""
        return self.language not in NOT_CODE and bool(self.code.strip())


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced blocks of `text`, in order."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        fence, language = opened.group(1), opened.group(2).lower()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                closed = True
                break
            body.append(lines[j])
            j += 1
        code = "\n".join(body) + ("\n" if body else "")
        before = next((line for line in reversed(lines[max(0, i - 2) : i]) if line.strip()), "")
        blocks.append(CodeBlock(code, language, _named_path(before, body), closed))
        i = j + 1
    return blocks


def _named_path(before: str, body: list[str]) -> str | None:
    if body:
        first = _FIRST_LINE_NAME.match(body[0])
        if first:
            return first.group(1)
    names = _FILE_NAME.findall(before)
    return names[-1].strip("./") if names else None


def close_open_fence(text: str) -> str:
    """`text` with a closing fence added when it ends inside a block (a reply cut at its stop)."""
    blocks = code_blocks(text)
    if blocks and not blocks[-1].closed:
        return text.rstrip("\n") + "\n```"
    return text
