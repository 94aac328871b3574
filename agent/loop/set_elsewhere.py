"""What the lines an edit changed use that is set on other lines of the same file.

The 1.5B model, told that a `return` line it kept editing changed no test result, went on
editing it: the pattern it used (`_PART = re.compile(...)`, two lines up) was the bug, and the
model had even said so in its own words. Naming the assignments and helpers those lines read,
where no edit went, points at the next place to look. Python only: other files, or a file
that does not parse, give nothing.
"""

from __future__ import annotations

import ast
import difflib
from typing import TypeGuard

from tools.editing.syntax import parse_python

MAX_SHOWN = 6
LINE_CHARS = 120


def changed_lines(before: str, after: str) -> set[int]:
    """The 1-based lines of `before` that `after` replaced or deleted (an insertion counts the
    line it went in front of)."""
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, first, last, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(first + 1, max(last, first + 1) + 1))
    return lines


def _spans(node: ast.AST) -> range:
    first = getattr(node, "lineno", 0)
    return range(first, (getattr(node, "end_lineno", None) or first) + 1)


def _on_self(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """`self.x`."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _used_names(tree: ast.Module, lines: set[int]) -> set[str]:
    """Names read on `lines`, with `self.x` read as `x`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.lineno in lines:
            names.add(node.id)
        elif _on_self(node) and isinstance(node.ctx, ast.Load) and node.lineno in lines:
            names.add(node.attr)
    return names


def _targets(node: ast.AST) -> tuple[list[str], list[str]]:
    """The names an assignment sets (`x = `, `x: T = `, `x += `) and the `self.x` it sets."""
    if isinstance(node, ast.Assign):
        found = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        found = [node.target]
    else:
        return [], []
    names: list[str] = []
    attributes: list[str] = []
    for target in found:
        for part in ast.walk(target):
            if isinstance(part, ast.Name) and isinstance(part.ctx, ast.Store):
                names.append(part.id)
            elif _on_self(part):
                attributes.append(part.attr)
    return names, attributes


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _scopes(tree: ast.Module) -> dict[ast.AST, ast.AST | None]:
    """Each node's innermost enclosing function or class (None: the module)."""
    owner: dict[ast.AST, ast.AST | None] = {}

    def visit(node: ast.AST, scope: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            owner[child] = scope
            visit(child, child if isinstance(child, _SCOPES) else scope)

    visit(tree, None)
    return owner


def set_elsewhere(source: str, lines: set[int]) -> list[tuple[int, str]]:
    """(line, text) of each assignment to, or definition of, a name `lines` read, outside
    `lines` themselves: at most MAX_SHOWN, in file order; for a function or class, its header.
    Only what the edited code can see counts: the module's own, and its enclosing functions' and
    classes' (a local of another function that happens to share a name does not)."""
    tree = parse_python(source)
    if tree is None or not lines:
        return []
    names = _used_names(tree, lines)
    owner = _scopes(tree)
    around = {n for n in owner if isinstance(n, _SCOPES) and any(line in _spans(n) for line in lines)}
    text = source.splitlines()
    found: dict[int, str] = {}
    for node, scope in owner.items():
        where = _spans(node)
        if any(line in lines for line in where):
            continue
        visible = scope is None or scope in around
        if isinstance(node, _SCOPES):
            hit = visible and node.name in names
        else:
            plain, attributes = _targets(node)
            # `self.x = ` counts in any method of the class the edited lines are in
            in_class = scope is not None and owner.get(scope) in around
            hit = (visible and any(t in names for t in plain)) or (
                in_class and any(t in names for t in attributes)
            )
        if hit and 1 <= where.start <= len(text):
            shown = text[where.start - 1].strip()
            found[where.start] = shown if len(shown) <= LINE_CHARS else shown[: LINE_CHARS - 3] + "..."
    return sorted(found.items())[:MAX_SHOWN]
