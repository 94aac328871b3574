"""A test file in a model's reply: the reproduction phase's drafts (reproduce.py, held_back.py)."""

from __future__ import annotations

import ast

BLOCK_END = "\n```\n"  # a reply ends at the close of its first fenced block


def test_code(reply: str, cut: bool = False) -> str:
    """The test file in a reply: its first fenced block (closed or not), else nothing. `cut`: the
    reply ran out of tokens, most often mid-statement: the statements written whole are kept."""
    start = reply.find("```")
    if start < 0:
        return ""
    body = reply[start:].split("\n", 1)
    if len(body) < 2:
        return ""
    code = body[1].split("\n```", 1)[0]
    code = code.removesuffix("```").strip("\n") + "\n"
    if cut:
        code = whole_statements(code)
    return code if "def test" in code else ""


def whole_statements(code: str) -> str:
    """A test file cut off mid-statement, back to its longest run of first lines that parses (the
    assertions written in full can run); the code as it is when it parses or nothing before does."""
    if _parses(code):
        return code
    lines = code.splitlines(keepends=True)
    for end in range(len(lines) - 1, 0, -1):
        head = "".join(lines[:end])
        if "def test" in head and _parses(head):
            return head
    return code


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True
