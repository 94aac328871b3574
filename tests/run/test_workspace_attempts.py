"""Setting an attempt aside and bringing it back, on a real worktree: base bytes exactly, many times."""

from __future__ import annotations

from pathlib import Path

import git

from agent.repo.journal import EditJournal
from agent.run.workspace import Workspace

BINARY = bytes(range(256)) * 4


def test_set_aside_and_restore_round_trip_exactly(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "user")
    root = Path(repo.working_tree_dir or "")
    (root / "code.py").write_bytes(b"def f():\n    return 1")  # no newline at the end
    (root / "blob.bin").write_bytes(BINARY)
    (root / "keep.txt").write_text("untouched\n")
    repo.git.add("-A")
    repo.index.commit("base")
    workspace = Workspace.create(repo, "s1", "round trip")
    journal = EditJournal()
    for round_ in range(12):  # a run sets aside and restores many times: nothing may drift
        (workspace.path / "code.py").write_text(f"def f():\n    return {round_ + 2}\n")
        (workspace.path / "blob.bin").write_bytes(BINARY[::-1])
        (workspace.path / "new.py").write_text("X = 1\n")
        diff = workspace.set_aside(journal)
        assert (workspace.path / "code.py").read_bytes() == b"def f():\n    return 1"
        assert (workspace.path / "blob.bin").read_bytes() == BINARY
        assert not (workspace.path / "new.py").exists()
        assert workspace.changed_files() == []
        workspace.restore(diff, journal)
        assert (workspace.path / "code.py").read_text() == f"def f():\n    return {round_ + 2}\n"
        assert (workspace.path / "blob.bin").read_bytes() == BINARY[::-1]
        assert (workspace.path / "new.py").read_text() == "X = 1\n"
        workspace.set_aside(journal)
    assert (workspace.path / "keep.txt").read_text() == "untouched\n"
    tools = [record.tool for record in journal]
    assert (
        tools.count("new_attempt") == 12 * 2 * 2
    )  # code.py and new.py, twice a round; the binary is not journaled
    assert tools.count("restore_attempt") == 12 * 2
