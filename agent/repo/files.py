"""Files of the repository as git sees them: tracked plus untracked-but-not-ignored.

Shared by list_files, search, read_file (for "did you mean" hints) and run_tests (suite detection).
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

BINARY_SNIFF_BYTES = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"})


def git_listing(root: Path) -> list[str] | None:
    try:
        proc = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:  # not a git repository
        return None
    return [os.fsdecode(raw) for raw in proc.stdout.split(b"\0") if raw]


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        base = Path(dirpath)
        found.extend((base / name).relative_to(root).as_posix() for name in filenames)
    return found


def _inside(root: Path, path: Path) -> bool:
    """A regular file whose real location (symlinks followed) is inside the repository."""
    if not path.is_file():
        return False  # deleted-but-tracked files, directories, broken links
    if not path.is_symlink():
        return True
    target = path.resolve()
    return target == root or root in target.parents


class RepoListing(NamedTuple):
    files: list[str]  # sorted, relative, "/"-separated
    undecodable: list[str]  # names that are not valid UTF-8, shown with \xNN escapes; left out


def undecodable(name: str) -> bool:
    """A name that is not valid UTF-8 (its bytes came back as lone surrogates): no model can
    write it, no prompt or JSON line can hold it."""
    return _SURROGATE.search(name) is not None


def shown_name(name: str) -> str:
    """A file name for people and models: bytes that are not UTF-8 as `\\xNN`."""
    try:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file system gave us
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def split_undecodable(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(names that are valid UTF-8, the others shown with escapes), each sorted."""
    good: list[str] = []
    bad: list[str] = []
    for name in names:
        (bad if undecodable(name) else good).append(name)
    return sorted(good), sorted(shown_name(name) for name in bad)


def repo_listing(root: Path) -> RepoListing:
    """Sorted paths relative to `root`, honouring .gitignore; a plain walk outside git.

    Deleted files and symlinks leading outside the repository are left out, and so are names that
    are not valid UTF-8 (listed apart, so tools can say they exist).
    """
    real_root = root.resolve()
    listed = git_listing(root)
    names = listed if listed is not None else _walk(root)
    files, skipped = split_undecodable(set(names))
    return RepoListing([rel for rel in files if _inside(real_root, root / rel)], skipped)


def repo_files(root: Path) -> list[str]:
    """`repo_listing(root).files`: what the tools may show and open."""
    return repo_listing(root).files


def is_binary(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"\0" in handle.read(BINARY_SNIFF_BYTES)
    except OSError:
        return True


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def close_names(wanted: str, files: list[str], limit: int = 5) -> list[str]:
    """Repository paths the model may have meant: same file name anywhere, then similar paths."""
    name = wanted.rstrip("/").rsplit("/", 1)[-1]
    same_name = [f for f in files if f.rsplit("/", 1)[-1] == name]
    similar = difflib.get_close_matches(wanted, files, n=limit, cutoff=0.5)
    by_name = difflib.get_close_matches(name, [f.rsplit("/", 1)[-1] for f in files], n=limit, cutoff=0.7)
    named_like = [f for f in files if f.rsplit("/", 1)[-1] in by_name]
    ordered = dict.fromkeys([*same_name, *similar, *named_like])
    return list(ordered)[:limit]
