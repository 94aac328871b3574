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


def approximate_floats(code: str) -> str:
    """The test with each float literal it compares with `==` wrapped in `pytest.approx`: the value
    an issue states is what a correct fix gives up to rounding (12 inches in feet computes as
    0.9999999999999998, the issue says 1.0). The code as it is when there is none, or it does
    not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    changed = False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
            continue
        if _is_float(node.comparators[0]):
            node.comparators[0], changed = _approx(node.comparators[0]), True
        elif _is_float(node.left):
            node.left, changed = _approx(node.left), True
    if not changed:
        return code
    first = next((i for i, n in enumerate(tree.body) if not _leading(n)), len(tree.body))
    tree.body.insert(first, ast.Import(names=[ast.alias(name="pytest")]))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _is_float(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def _approx(node: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Attribute(value=ast.Name(id="pytest"), attr="approx"), args=[node], keywords=[])


def _leading(node: ast.stmt) -> bool:
    """A module docstring or a `from __future__` import: what must stay first."""
    docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
