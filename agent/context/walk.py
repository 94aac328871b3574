"""The files the packer may read: git's view of the repository, and nothing else.

`git ls-files --cached --others --exclude-standard` honours .gitignore, `.git/info/exclude` and
the global excludes file, so ignored paths (a materialised task's `.task/`, build output, venvs)
are never opened. Symbolic links are skipped: their target is either listed itself or outside
the repository. Names that are not valid UTF-8 are skipped too (counted): a prompt cannot hold them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from agent.context.cache import StatKey
from agent.repo.files import git_listing, repo_listing, split_undecodable


class Entry(NamedTuple):
    path: str  # relative, with "/" separators
    key: StatKey


class Listing(NamedTuple):
    entries: list[Entry]
    symlinks: list[str]
    undecodable: list[str]  # names that are not valid UTF-8, shown with \xNN escapes


def walk(root: Path) -> Listing:
    """Regular files git lists (or, outside git, a plain walk), sorted; symbolic links apart."""
    listed = git_listing(root)
    if listed is not None:
        names, skipped = split_undecodable(set(listed))
    else:
        names, skipped = repo_listing(root)
    base = str(root)
    entries: list[Entry] = []
    symlinks: list[str] = []
    for rel in names:
        try:
            info = os.lstat(os.path.join(base, rel))
        except OSError:  # deleted but still tracked
            continue
        if stat.S_ISLNK(info.st_mode):
            symlinks.append(rel)
        elif stat.S_ISREG(info.st_mode):
            entries.append(Entry(rel, (info.st_size, info.st_mtime_ns, info.st_ino)))
    return Listing(entries, symlinks, skipped)
