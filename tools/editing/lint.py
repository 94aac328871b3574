"""After a Python edit: the names the new code uses that nothing defines (pyflakes).

A small model that writes `return (s[mid - 1] + s[mid]) / 2` above the line that sets `s` only
learns it from a NameError in a test run, if it runs the tests and reads them. Like Aider's lint
step, every edit's result says so at once. Only problems the edit introduced are reported (the
file's old problems are not the model's doing), and the edit stays applied: defining the name,
or importing it, is often the model's next edit.
"""

from __future__ import annotations

from collections import Counter

from pyflakes import checker, messages

from tools.editing.syntax import parse_python

# what fails at run time for certain; style findings (unused imports...) are not worth a turn
SERIOUS = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)


def _problems(text: str, path: str) -> list[messages.Message] | None:
    """None when the text does not parse (the syntax check reports that)."""
    tree = parse_python(text, filename=path)
    if tree is None:
        return None
    found = checker.Checker(tree, filename=path).messages
    return [m for m in found if isinstance(m, SERIOUS)]


def _key(message: messages.Message) -> tuple[str, tuple[object, ...]]:
    return type(message).__name__, tuple(message.message_args)


def new_problems(path: str, before: str | None, after: str | None) -> list[str]:
    """`undefined name 'x' (line 3, 4)` for each problem `after` has that `before` did not."""
    if after is None or not path.endswith((".py", ".pyi")):
        return []
    now = _problems(after, path)
    if not now:
        return []
    old = Counter(_key(m) for m in ((_problems(before, path) or []) if before is not None else []))
    lines: dict[str, list[int]] = {}
    for message in sorted(now, key=lambda m: m.lineno):
        key = _key(message)
        if old[key] > 0:
            old[key] -= 1
            continue
        at = lines.setdefault(message.message % message.message_args, [])
        if message.lineno not in at:
            at.append(message.lineno)
    return [f"{text} (line {', '.join(map(str, at))})" for text, at in lines.items()]
