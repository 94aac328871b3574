"""Test-gaming: a change that makes the failing tests pass by special-casing their values.

Small models, shown a failing test, sometimes write the test's answer into the code: a branch on
the test's input that returns its expected value (`if value == 1024: return "1.0 KiB"` inside a
loop whose comparison was the bug), or the expected value returned outright. Such a change passes
the tests and fixes nothing else. It is found in the changed lines of the code (Python's syntax
tree), against the values the failing tests use:

- a changed `if`/`elif`/conditional expression that compares (`==`, `!=`, `in`, `is`) against a
  value of the tests that the file did not hold before, and whose branch returns or assigns another
  such value;
- a changed `return` of a value the tests expect (a string, or a number other than 0, 1, -1 and 2)
  that the file did not hold before.

Values the code held before the change are never counted: moving a bound (`<` to `<=` on 1024) is
a fix, not a special case. `special_casing` says why a change is one, or "".
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable

from agent.loop.faithful import code_values

PLAIN_NUMBERS = frozenset({"0", "1", "-1", "2"})
_EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)


def special_casing(changes: Iterable[tuple[str, str | None, str | None]], tests_source: str) -> str:
    """Why the change special-cases the failing tests' values, or "". `changes`: (path, before,
    after) of each changed file; `tests_source`: the failing tests' code."""
    wanted = code_values(tests_source)
    if not wanted:
        return ""
    for path, before, after in changes:
        if not path.endswith(".py") or after is None or _is_test(path):
            continue
        found = _in_file(before or "", after, wanted)
        if found:
            return f"{path}: {found}; a fix must work for every input, not only the tests' values"
    return ""


def _is_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in f"/{path}"


def _in_file(before: str, after: str, wanted: set[str]) -> str:
    try:
        tree = ast.parse(after)
    except SyntaxError:
        return ""
    new_values = wanted - code_values(before) if before else wanted
    if not new_values:
        return ""
    changed = _changed_lines(before, after)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) not in changed:
            continue
        if isinstance(node, ast.If | ast.IfExp):
            why = _branch(node, new_values)
            if why:
                return why
        elif isinstance(node, ast.Return) and node.value is not None:
            value = _constant(node.value)
            if value is not None and value in new_values and value not in PLAIN_NUMBERS:
                return f"line {node.lineno} returns {value!r}, a value the tests expect"
    return ""


def _branch(node: ast.If | ast.IfExp, new_values: set[str]) -> str:
    compared = [v for v in _compared(node.test) if v in new_values]
    if not compared:
        return ""
    body = node.body if isinstance(node.body, list) else [node.body]
    produced = [v for part in body for v in _produced(part) if v in new_values and v not in compared]
    if not produced:
        return ""
    return (
        f"line {node.lineno} tests for {compared[0]!r} and gives {produced[0]!r}, both values of the "
        "failing tests"
    )


def _compared(test: ast.expr) -> list[str]:
    """The constants `test` compares something against for equality or membership."""
    found: list[str] = []
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and any(isinstance(op, _EQUALITY) for op in node.ops):
            for side in [node.left, *node.comparators]:
                found += _constants(side)
    return found


def _produced(node: ast.AST) -> list[str]:
    """The constants a branch returns or assigns (or is, for a conditional expression)."""
    if isinstance(node, ast.expr):
        return _constants(node)
    found: list[str] = []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Return | ast.Assign | ast.AugAssign | ast.AnnAssign) and inner.value:
            found += _constants(inner.value)
    return found


def _constants(node: ast.expr) -> list[str]:
    value = _constant(node)
    if value is not None:
        return [value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [v for element in node.elts for v in _constants(element)]
    return []


def _constant(node: ast.expr) -> str | None:
    """A literal as faithful.code_values writes it (numbers normalised), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value or None
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    inner = node.operand if isinstance(node, ast.UnaryOp) and negative else node
    if (
        isinstance(inner, ast.Constant)
        and isinstance(inner.value, int | float)
        and not isinstance(inner.value, bool)
    ):
        found = code_values(repr(-inner.value if negative else inner.value))
        return next(iter(found), None)
    return None


def _changed_lines(before: str, after: str) -> set[int]:
    """Line numbers of `after` that are new or changed against `before`."""
    old, new = before.splitlines(), after.splitlines()
    changed: set[int] = set()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            changed.update(range(j1 + 1, j2 + 1))
    return changed
