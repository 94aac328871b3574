"""Real temporary git repositories for tests, and a byte-exact snapshot of a user's checkout."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]

BUGGY_MEDIAN = '''def median(xs):
    """Median of a non-empty list."""
    s = sorted(xs)
    return s[len(s) // 2]
'''

MEDIAN_TESTS = """from stats import median


def test_odd():
    assert median([3, 1, 2]) == 2


def test_even():
    assert median([1, 2, 3, 4]) == 2.5
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def median_repo(root: Path) -> Path:
    return make_repo(
        root, {"stats.py": BUGGY_MEDIAN, "test_stats.py": MEDIAN_TESTS, "README.md": "# stats\n"}
    )


def snapshot(root: Path) -> dict[str, str]:
    """Everything a user could see: file bytes, index, HEAD, branches, status."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == ".git" or rel.startswith(".git/") or "__pycache__" in rel or not path.is_file():
            continue
        state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    state["<index>"] = git(root, "ls-files", "-s")
    state["<HEAD>"] = git(root, "rev-parse", "HEAD")
    state["<status>"] = git(root, "status", "--porcelain", "--untracked-files=all")
    state["<stash>"] = git(root, "stash", "list")
    return state
