"""What the reproduction phase needs from the repository (agent/loop/reproduce.py): where a new
test file goes, how the project's tests look, and where the names the issue mentions are defined.

All of it comes from the repository index (agent/context), the same one the context pack uses:
the test file that refers most to the issue's names is the example (its imports show how tests
reach the code), its directory is where the new file goes, and each name the issue mentions that
a module defines at its top level becomes an import line. Python only; other languages get none.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from agent.context.index import IndexedFile, RepoIndex, load_index
from agent.context.issue import parse_issue
from agent.loop.reproduce import ReproBrief

EXAMPLE_LINES = 30
MAX_IMPORTS = 6


def repro_brief(root: Path, issue: str, cache_dir: Path | None = None) -> ReproBrief | None:
    """The brief for `issue` in the repository at `root`; None when it holds no Python."""
    index = load_index(root, cache_dir)
    if not any(f.path.endswith(".py") for f in index.files):
        return None
    names = sorted(parse_issue(issue).identifiers.items(), key=lambda item: -item[1])
    wanted = [name for name, _ in names]
    example = _example(index, wanted)
    imports = _imports(index, wanted)
    folder = str(PurePosixPath(example.path).parent) if example else _test_folder(index)
    path = _free_name(root, folder, _slug(wanted, issue))
    text = _head(root / example.path) if example else ""
    return ReproBrief(
        path=path,
        imports=imports,
        example_path=example.path if example else "",
        example=text,
        names=wanted,
    )


def _example(index: RepoIndex, names: list[str]) -> IndexedFile | None:
    """The Python test file that refers most to the issue's names (the first one when none does)."""
    tests = [f for f in index.files if f.test and f.path.endswith(".py") and _is_test_module(f.path)]
    if not tests:
        return None
    return max(tests, key=lambda f: (sum(name in f.record.refs for name in names), -len(f.path)))


def _is_test_module(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.startswith("test_") or name.endswith("_test.py")


def _imports(index: RepoIndex, names: list[str]) -> list[str]:
    """`from module import name` for each top-level definition (outside tests) the issue names; a
    method's class is imported instead."""
    lines: list[str] = []
    for name in names:
        for position in index.definitions.get(name, []):
            file = index.files[position[0]]
            if file.test or not file.path.endswith(".py"):
                continue
            symbols = file.record.symbols
            symbol = symbols[position[1]]
            while symbol.parent >= 0:
                symbol = symbols[symbol.parent]
            line = f"from {_module(file.path)} import {symbol.name}"
            if line not in lines:
                lines.append(line)
            break
        if len(lines) >= MAX_IMPORTS:
            break
    return lines


def _module(path: str) -> str:
    """The dotted module of a file, as tests run from the repository root import it (a `src/`
    layout's packages without the `src`)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _test_folder(index: RepoIndex) -> str:
    """Where the tests are kept: the folder holding the most test files, `tests` when there are none."""
    counts: dict[str, int] = {}
    for file in index.files:
        if file.test and file.path.endswith(".py"):
            folder = str(PurePosixPath(file.path).parent)
            counts[folder] = counts.get(folder, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else "tests"


def _slug(names: list[str], issue: str) -> str:
    words = [n.lower() for n in names[:2]] or re.findall(r"[a-z]{3,}", issue.lower())[:3]
    slug = re.sub(r"[^a-z0-9]+", "_", "_".join(words)).strip("_")[:40]
    return slug or "reported"


def _free_name(root: Path, folder: str, slug: str) -> str:
    base = f"test_issue_{slug}"
    folder = "" if folder in (".", "") else folder
    candidate = str(PurePosixPath(folder) / f"{base}.py") if folder else f"{base}.py"
    number = 2
    while (root / candidate).exists():
        name = f"{base}_{number}.py"
        candidate = str(PurePosixPath(folder) / name) if folder else name
        number += 1
    return candidate


def _head(path: Path) -> str:
    """The first lines of a test file: its imports and its first test."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return "\n".join(lines[:EXAMPLE_LINES])
