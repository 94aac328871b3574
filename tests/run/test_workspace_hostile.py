"""The workspace on a worktree the model's commands have made hostile: links, special files, nested
repositories, names that are not UTF-8. Real worktrees and real git; what a command would plant is
planted here directly (the sandbox lets commands write anything in the worktree)."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import git as gitpython
import pytest

from agent.repo.host_git import HostGitError
from agent.repo.journal import EditJournal, UndoError
from agent.repo.strays import remove_strays
from agent.run.workspace import Workspace, live_diff
from tests.repos import BUGGY_MEDIAN, git, make_repo

SECRET = "outside-secret-5f1c\n"
CONFIG_SECRET = "config-secret-77e2"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text(SECRET)
    return path


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = make_repo(
        tmp_path / "user",
        {
            "stats.py": BUGGY_MEDIAN,
            "README.md": "# stats\n",
            "pkg/mod.py": "VALUE = 1\n",
            ".gitignore": ".venv/\n",
        },
    )
    git(root, "config", "agent-test.secret", CONFIG_SECRET)
    return Workspace.create(gitpython.Repo(root), "s1", "hostile")


def user_config(workspace: Workspace) -> bytes:
    return (Path(workspace.repo.git_dir) / "config").read_bytes()


def assert_base(workspace: Workspace) -> None:
    """Every tracked file is a regular file with its base content again."""
    for rel, text in {
        "stats.py": BUGGY_MEDIAN,
        "README.md": "# stats\n",
        "pkg/mod.py": "VALUE = 1\n",
    }.items():
        info = os.lstat(workspace.path / rel)
        assert stat.S_ISREG(info.st_mode), rel
        assert (workspace.path / rel).read_text() == text
    assert workspace.changed_files() == []


def replace(path: Path, how: str, target: Path | str = "") -> None:
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*"), reverse=True):
            child.unlink() if not child.is_dir() or child.is_symlink() else child.rmdir()
        path.rmdir()
    else:
        path.unlink()
    if how == "link":
        path.symlink_to(target)
    elif how == "dir":
        path.mkdir()
        (path / "inner.txt").write_text("inner\n")
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))


def test_links_to_files_outside_are_put_back_without_being_followed(
    workspace: Workspace, outside: Path
) -> None:
    config = user_config(workspace)
    replace(workspace.path / "stats.py", "link", outside / "secret.txt")
    replace(workspace.path / "README.md", "link", outside / "created.txt")  # dangling
    journal = EditJournal()
    diff = workspace.set_aside(journal)
    assert_base(workspace)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET
    assert SECRET not in diff and all(SECRET not in (r.before or "") for r in journal)
    assert [r.path for r in journal] == []  # a link is put back, not journaled
    assert user_config(workspace) == config


def test_a_relative_link_to_the_users_git_config_is_not_written_through(workspace: Workspace) -> None:
    config = user_config(workspace)
    replace(workspace.path / "stats.py", "link", "../../../config")
    assert (workspace.path / "stats.py").resolve() == (Path(workspace.repo.git_dir) / "config").resolve()
    journal = EditJournal()
    workspace.set_aside(journal)
    assert user_config(workspace) == config
    assert all(CONFIG_SECRET not in (r.before or "") + (r.after or "") for r in journal)
    assert (workspace.path / "stats.py").read_text() == BUGGY_MEDIAN


def test_a_link_in_place_of_a_directory_is_not_followed(workspace: Workspace, outside: Path) -> None:
    replace(workspace.path / "pkg", "link", outside)
    workspace.set_aside(EditJournal())
    assert_base(workspace)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("how", ["dir", "fifo", "socket"])
def test_something_else_in_place_of_a_file_is_put_back(workspace: Workspace, how: str) -> None:
    replace(workspace.path / "README.md", how)
    (workspace.path / "stats.py").write_text(BUGGY_MEDIAN + "# changed\n")
    heard: list[str] = []
    workspace.notify = heard.append
    journal = EditJournal()
    workspace.set_aside(journal)
    assert_base(workspace)
    assert {"README.md", "stats.py"} <= {r.path for r in journal}
    if how != "dir":
        assert heard == [f"removed {'FIFO' if how == 'fifo' else 'socket'} README.md: {_special_tail()}"]


def _special_tail() -> str:
    return "the agent's worktree may hold only files, directories and symbolic links"


def test_restore_brings_a_link_back_as_a_link_and_does_not_read_it(
    workspace: Workspace, outside: Path
) -> None:
    (workspace.path / "leak.txt").symlink_to(outside / "secret.txt")
    (workspace.path / "stats.py").write_text(BUGGY_MEDIAN + "# wip\n")
    journal = EditJournal()
    diff = workspace.set_aside(journal)
    assert not os.path.lexists(workspace.path / "leak.txt")
    workspace.restore(diff, journal)
    assert os.readlink(workspace.path / "leak.txt") == str(outside / "secret.txt")
    assert (workspace.path / "stats.py").read_text() == BUGGY_MEDIAN + "# wip\n"
    assert all(SECRET not in (r.before or "") + (r.after or "") for r in journal)
    assert [(r.tool, r.path) for r in journal] == [
        ("new_attempt", "stats.py"),
        ("restore_attempt", "stats.py"),
    ]


def test_restore_of_a_diff_from_elsewhere_builds_its_tree_in_a_private_index(workspace: Workspace) -> None:
    (workspace.path / "stats.py").write_text(BUGGY_MEDIAN + "# wip\n")
    (workspace.path / "new.py").write_text("X = 1\n")
    diff = workspace.diff()
    workspace.set_aside()
    other = Workspace(
        workspace.repo, workspace.path, workspace.branch, workspace.base_commit, workspace.git_dir
    )
    replace(workspace.path / "stats.py", "fifo")  # whatever stands there is replaced
    other.restore(diff)
    assert (workspace.path / "stats.py").read_text() == BUGGY_MEDIAN + "# wip\n"
    assert (workspace.path / "new.py").read_text() == "X = 1\n"


def nested_repository(where: Path, markers: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    git(where, "init", "-q")
    (where / "f.txt").write_text("one\n")
    git(where, "add", "-A")
    git(where, "commit", "-qm", "one")
    git(where, "config", "core.fsmonitor", f"touch {markers}/nested-fsmonitor; false")
    (where / ".gitattributes").write_text("* filter=evil\n")
    git(where, "config", "filter.evil.clean", f"sh -c 'touch {markers}/nested-filter; cat'")
    (where / "f.txt").write_text("two\n")


def test_nested_repositories_are_removed_before_anything_is_staged(
    workspace: Workspace, markers: Path
) -> None:
    nested_repository(workspace.path / "sub", markers)
    nested_repository(workspace.path / "a" / "b" / "c", markers)
    nested_repository(workspace.path / "pkg", markers)  # a tracked directory
    nested_repository(workspace.path / "outer" / "inner", markers)
    nested_repository(workspace.path / "outer", markers)  # a repository holding a repository
    heard: list[str] = []
    workspace.notify = heard.append
    for _ in range(3):  # every later call finds nothing left to run
        assert "Subproject" not in workspace.diff()
    commit = workspace.commit("nested")
    assert os.listdir(markers) == []
    gone = ["sub", "a/b/c", "pkg", "outer", "outer/inner"]
    assert sorted(m.split(" ")[4] for m in heard) == sorted(f"{rel}/.git:" for rel in gone)
    assert all(not os.path.lexists(workspace.path / rel / ".git") for rel in gone)
    listed = git(workspace.path, "ls-tree", "-r", str(commit))
    assert "160000" not in listed and "sub/f.txt" in listed and "outer/inner/f.txt" in listed


def test_what_ignored_directories_and_linked_directories_hold_is_left_alone(
    workspace: Workspace, markers: Path, tmp_path: Path
) -> None:
    nested_repository(workspace.path / ".venv" / "src" / "dep", markers)  # ignored: git never looks
    elsewhere = tmp_path / "elsewhere"
    nested_repository(elsewhere, markers)
    (workspace.path / "linked").symlink_to(elsewhere)
    assert remove_strays(workspace.git).messages == []
    assert (workspace.path / ".venv" / "src" / "dep" / ".git").is_dir()
    assert (elsewhere / ".git").is_dir()
    workspace.diff()
    assert os.listdir(markers) == []


def test_the_live_view_removes_nothing_and_runs_nothing(workspace: Workspace, markers: Path) -> None:
    workspace.changed_files()
    nested_repository(workspace.path / "sub", markers)
    (workspace.path / "stats.py").write_text(BUGGY_MEDIAN + "# live\n")
    for _ in range(2):
        shown = live_diff(workspace.path, "HEAD")
        assert "+# live" in shown and "sub" not in shown
    assert (workspace.path / "sub" / ".git").is_dir()
    assert os.listdir(markers) == []


def test_a_file_name_that_is_not_utf8_is_set_aside_and_shown_printable(workspace: Workspace) -> None:
    name = os.fsdecode(b"caf\xe9.py")
    (workspace.path / name).write_bytes(b"caf\xe9 = 1\n")
    (workspace.path / "stats.py").write_bytes(BUGGY_MEDIAN.encode() + b"# \xe9\n")
    assert workspace.changed_files() == ["caf\ufffd.py", "stats.py"]
    assert "\ufffd" in workspace.diff()
    journal = EditJournal()
    diff = workspace.set_aside(journal)
    assert not os.path.lexists(workspace.path / name)
    assert [r.path for r in journal] == []  # neither is text the journal can hold
    workspace.restore(diff, journal)
    assert (workspace.path / name).read_bytes() == b"caf\xe9 = 1\n"
    assert (workspace.path / "stats.py").read_bytes().endswith(b"# \xe9\n")


def test_a_real_submodule_of_the_user_still_works(tmp_path: Path) -> None:
    library = make_repo(tmp_path / "library", {"lib.py": "L = 1\n"})
    root = make_repo(tmp_path / "user", {"app.py": "A = 1\n"})
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(root, "commit", "-qm", "submodule")
    workspace = Workspace.create(gitpython.Repo(root), "s1", "submodule")
    assert workspace.changed_files() == [] and workspace.commit("nothing") is None
    (workspace.path / "app.py").write_text("A = 2\n")
    assert workspace.changed_files() == ["app.py"]
    assert workspace.commit("app") is not None
    assert git(root, "ls-tree", workspace.branch, "lib").startswith("160000 ")


def test_the_journal_never_undoes_through_a_link(workspace: Workspace, outside: Path) -> None:
    journal = EditJournal()
    (workspace.path / "gone.py").write_text("old\n")
    journal.record("apply_patch", "gone.py", "old\n", None)  # the edit deleted gone.py
    (workspace.path / "gone.py").unlink()
    (workspace.path / "gone.py").symlink_to(outside / "planted.txt")  # dangling
    with pytest.raises(UndoError, match="no longer the text file"):
        journal.undo(workspace.path)
    journal.record("edit_file", "stats.py", BUGGY_MEDIAN, SECRET)
    replace(workspace.path / "stats.py", "link", outside / "secret.txt")  # holds exactly that text
    with pytest.raises(UndoError, match="no longer the text file"):
        journal.undo(workspace.path)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET


def finishes(call: Callable[[], object], seconds: float = 60) -> object:
    """`call`'s result (or its exception, raised here); fails instead of hanging the suite when git
    waits on a FIFO."""
    outcome: list[tuple[bool, object]] = []

    def target() -> None:
        try:
            outcome.append((True, call()))
        except Exception as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds}s: git is waiting on a FIFO"
    done, value = outcome[0]
    if not done:
        assert isinstance(value, Exception)
        raise value
    return value


def test_a_fifo_where_git_reads_its_rules_is_removed_before_git_runs(workspace: Workspace) -> None:
    (workspace.path / "newdir").mkdir()
    (workspace.path / "newdir" / "a.py").write_text("A = 1\n")
    (workspace.path / ".venv" / "x").mkdir(parents=True)
    for rel in (".gitattributes", "pkg/.gitignore", "newdir/.gitignore", ".venv/x/.gitignore"):
        os.mkfifo(workspace.path / rel)
    heard: list[str] = []
    workspace.notify = heard.append
    assert finishes(workspace.changed_files) == ["newdir/a.py"]
    gone = [".gitattributes", "newdir/.gitignore", "pkg/.gitignore"]
    assert sorted(m.split(" ")[2].rstrip(":") for m in heard) == gone
    assert stat.S_ISFIFO(os.lstat(workspace.path / ".venv" / "x" / ".gitignore").st_mode)  # ignored: left


def test_the_live_view_does_not_wait_on_a_fifo(workspace: Workspace) -> None:
    os.mkfifo(workspace.path / "pkg" / ".gitattributes")
    with pytest.raises(HostGitError, match="would make git wait"):
        finishes(lambda: live_diff(workspace.path, "HEAD"))
    assert stat.S_ISFIFO(os.lstat(workspace.path / "pkg" / ".gitattributes").st_mode)  # left as it is
