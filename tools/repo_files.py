"""Files of the repository as git sees them: tracked plus untracked-but-not-ignored."""

from __future__ import annotations

import subprocess
from pathlib import Path

BINARY_SNIFF_BYTES = 8192


def repo_files(root: Path) -> list[str]:
    """Paths relative to `root`, honouring .gitignore; falls back to a walk outside git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8", errors="replace")
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
        )
    return sorted({rel for rel in out.split("\0") if rel and (root / rel).is_file()})


def is_binary(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"\0" in handle.read(BINARY_SNIFF_BYTES)
    except OSError:
        return True


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")
