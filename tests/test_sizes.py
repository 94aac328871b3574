"""Small modules and short functions (the house rules, and issue #29's done-when): no module over
500 lines, no function over 60 (decorators and docstring included), the loop's core readable in one
sitting (250 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import ROOT

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
LIMITS = {Path("agent/loop/core.py"): 250}  # tighter limits for some modules
PACKAGES = ("agent", "tools", "sandbox", "prompts")


def sources() -> list[Path]:
    return [p.relative_to(ROOT) for top in PACKAGES for p in sorted((ROOT / top).rglob("*.py"))]


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of each function or method longer than `limit`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - start + 1
            if lines > limit:
                found.append((node.name, lines))
    return found


def test_no_module_is_too_long() -> None:
    long = {}
    for path in sources():
        lines = len((ROOT / path).read_text().splitlines())
        if lines > LIMITS.get(path, MAX_MODULE_LINES):
            long[str(path)] = lines
    assert long == {}, f"split these modules (at most {MAX_MODULE_LINES} lines; {LIMITS}): {long}"


def test_no_function_is_too_long() -> None:
    long = {str(path): found for path in sources() if (found := long_functions((ROOT / path).read_text()))}
    assert long == {}, f"split these functions (at most {MAX_FUNCTION_LINES} lines): {long}"


def test_a_function_counts_from_its_first_decorator_to_its_last_line() -> None:
    body = "\n".join(f"    x = {i}" for i in range(58))
    source = f"@decorated\ndef f():\n{body}\n\nclass C:\n    def g(self):\n        pass\n"
    assert long_functions(source) == [] and long_functions(source, 59) == [("f", 60)]
