"""The loop's tests' fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repos import median_repo


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "user")
    # an uncommitted change and an untracked file the run must not touch
    (repo / "README.md").write_text("# stats\nwork in progress\n")
    (repo / "notes.txt").write_text("my notes\n")
    return repo
