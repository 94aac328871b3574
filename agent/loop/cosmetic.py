"""Whether an edit changed what the code does, or only its comments and layout.

Small models asked to fix a bug often "fix" it with a comment that says what should change
(`return total  # handle the seconds unit`). Such an edit cannot move a failing test, and saying
so plainly beats letting the tests fail the same way again. Only Python is judged (its syntax
tree drops comments and layout); any other file, or a file that does not parse, counts as
changed code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from agent.repo.journal import EditRecord
from tools.editing.syntax import parse_python


def _tree(text: str) -> str | None:
    tree = parse_python(text)
    return ast.dump(tree) if tree is not None else None


def same_code(path: str, before: str | None, after: str | None) -> bool:
    """True when `before` and `after` of a Python file differ only in comments and layout."""
    if not path.endswith((".py", ".pyi")) or before is None or after is None or before == after:
        return False
    tree = _tree(before)
    return tree is not None and tree == _tree(after)


def only_cosmetic(records: Iterable[EditRecord]) -> bool:
    """Every one of these file changes left its code as it was (and there was at least one)."""
    records = list(records)
    return bool(records) and all(same_code(r.path, r.before, r.after) for r in records)
