"""The source of tests named by pytest node ids (`tests/test_x.py::test_y[p]`), read from the tree:
what the special-casing check compares a change against (gaming.py), and where the issue's own
example calls are looked for (issue_examples.py)."""

from __future__ import annotations

import ast
from pathlib import Path


def failing_tests_source(root: Path, node_ids: list[str]) -> str:
    """The source of the failing tests named by pytest node ids (`tests/test_x.py::test_y[p]`),
    decorators included (parametrised values are the tests' values too); a whole file when the id
    names no function (a collection error)."""
    parts: list[str] = []
    for path, names in _by_file(node_ids).items():
        parsed = _parsed(root / path)
        if parsed is not None:
            parts.append(_definitions(*parsed, names) if names else parsed[0])
    return "\n".join(parts)


def sources_of_tests(root: Path, node_ids: list[str]) -> dict[str, str]:
    """Each of the node ids that names a test function, with that test's source (as
    `failing_tests_source` gives it for the id alone), each file read and parsed once."""
    sources: dict[str, str] = {}
    for path in _by_file(node_ids):
        parsed = _parsed(root / path)
        if parsed is None:
            continue
        for node_id in node_ids:
            if "::" in node_id and node_id.partition("::")[0] == path:
                sources[node_id] = _definitions(*parsed, {_function_name(node_id)})
    return sources


def _parsed(path: Path) -> tuple[str, ast.Module] | None:
    try:
        source = path.read_text(encoding="utf-8")
        return source, ast.parse(source)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _definitions(source: str, tree: ast.Module, names: set[str]) -> str:
    """The functions of `tree` named `names`, each with its decorators."""
    parts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            parts.append(ast.get_source_segment(source, node) or "")
            parts += [ast.unparse(d) for d in node.decorator_list]
    return "\n".join(parts)


def _function_name(node_id: str) -> str:
    return node_id.partition("::")[2].split("::")[-1].split("[", 1)[0]


def _by_file(node_ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node_id in node_ids:
        path, _, rest = node_id.partition("::")
        names = found.setdefault(path, set())
        if rest:
            names.add(_function_name(node_id))
    return found
