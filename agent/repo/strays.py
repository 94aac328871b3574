"""What host git must never meet in the agent's worktree: nested repositories and special files.

`git add -A` records a directory holding a git repository as a gitlink and from then on runs
`git status` inside it with that repository's own config: its fsmonitor, filter drivers and hooks
would run on the host. A FIFO, socket or device file where git expects a file makes `git add`
fail. So before host git stages the worktree, and after each command the model runs, every
nested `.git` (file or directory, at any depth, not ignored) and every special file git lists is
removed, and the model is told.

Fast on big repositories: one `git ls-files` lists the index and the untracked, not ignored files
(ignored directories such as .venv or node_modules are not walked), then only the directories
holding them are looked at, one lstat each. Nothing is followed through a symbolic link: a
directory is looked into only when every component of its path is a real directory.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.repo.host_git import HostGit, HostGitError, display_path
from sandbox.approval import ToolAwareSandbox
from sandbox.base import CommandResult, Sandbox

NESTED = "removed nested git repository {path}: the agent's worktree may not hold nested repositories"
SPECIAL = "removed {kind} {path}: the agent's worktree may hold only files, directories and symbolic links"
GITLINK_MODE = b"160000"


@dataclass
class Listing:
    """`git ls-files -z -t -s -m -o --exclude-standard`, sorted out."""

    dirs: set[str] = field(default_factory=set)  # every directory holding a listed path
    repositories: set[str] = field(default_factory=set)  # gitlinks, and untracked dirs git sees as repos
    modified: list[str] = field(default_factory=list)  # tracked paths whose file changed


def read_listing(git: HostGit) -> Listing:
    """One `git ls-files`; bytes are worked on as they come (a big index has 100,000 lines)."""
    raw = git.run("ls-files", "-z", "-t", "-s", "-m", "-o", "--exclude-standard")
    dirs: set[bytes] = set()
    repositories: list[bytes] = []
    modified: list[bytes] = []
    for record in raw.split(b"\0"):
        if record[:2] == b"? ":
            path = record[2:]
            if path.endswith(b"/"):  # an untracked directory git takes for a repository
                path = path.rstrip(b"/")
                repositories.append(path)
        elif record:
            path = record[record.index(b"\t") + 1 :]
            if record[2:8] == GITLINK_MODE:
                repositories.append(path)
            if record[:2] == b"C ":
                modified.append(path)
        else:
            continue
        parent = path.rpartition(b"/")[0]
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = parent.rpartition(b"/")[0]
    return Listing(
        {os.fsdecode(d) for d in dirs},
        {os.fsdecode(r) for r in repositories},
        [os.fsdecode(m) for m in modified],
    )


class RealDirs:
    """Which relative paths are directories all the way down (no component a symbolic link)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._known: dict[str, bool] = {"": True}

    def __call__(self, rel: str) -> bool:
        if rel not in self._known:
            parent = rel.rpartition("/")[0]
            self._known[rel] = self(parent) and _is_dir(os.path.join(self.root, rel))
        return self._known[rel]


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _special_kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return None


def _remove(path: Path) -> None:
    """Remove `path` (a directory with all it holds), making it writable first when it is not."""
    try:
        _remove_once(path)
    except FileNotFoundError:
        raise
    except OSError:
        _make_writable(path)
        _remove_once(path)


def _remove_once(path: Path) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)  # follows no symbolic link inside
    else:
        path.unlink()


def _make_writable(path: Path) -> None:
    """u+rwx on `path`'s directory and, for a directory, on every directory in it (links not followed)."""
    os.chmod(path.parent, stat.S_IMODE(os.lstat(path.parent).st_mode) | stat.S_IRWXU)
    pending = [path] if stat.S_ISDIR(os.lstat(path).st_mode) else []
    while pending:
        current = pending.pop()
        os.chmod(current, stat.S_IMODE(os.lstat(current).st_mode) | stat.S_IRWXU)
        with os.scandir(current) as entries:
            pending += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]


@dataclass
class Sweep:
    """What `remove_strays` did: a message per removal, and the repositories it could not remove."""

    messages: list[str] = field(default_factory=list)
    left: set[str] = field(default_factory=set)


MAX_ROUNDS = 20  # a repository nested in a nested repository shows once the outer one is gone


def remove_strays(git: HostGit) -> Sweep:
    """Remove nested repositories and special files from `git.work_tree`."""
    sweep = Sweep()
    for _ in range(MAX_ROUNDS):
        listing = read_listing(git)
        real = RealDirs(git.work_tree)
        removed = _remove_repositories(git.work_tree, listing, real, sweep)
        sweep.messages += _remove_special_files(git.work_tree, listing, real)
        if not removed:
            break
    return sweep


def _remove_repositories(root: Path, listing: Listing, real: RealDirs, sweep: Sweep) -> int:
    removed = 0
    for rel in sorted(listing.dirs | listing.repositories):
        if rel in sweep.left or not real(rel):
            continue
        dot_git = f"{rel}/.git"
        try:
            _remove(root / dot_git)
        except FileNotFoundError:
            continue
        except OSError as exc:
            sweep.messages.append(f"could not remove nested git repository {display_path(dot_git)}: {exc}")
            sweep.left.add(rel)
            continue
        sweep.messages.append(NESTED.format(path=display_path(dot_git)))
        removed += 1
    return removed


def _remove_special_files(root: Path, listing: Listing, real: RealDirs) -> list[str]:
    messages = []
    for rel in listing.modified:
        if not real(rel.rpartition("/")[0]):
            continue
        try:
            kind = _special_kind(os.lstat(root / rel).st_mode)
            if kind is not None:
                _remove(root / rel)
                messages.append(SPECIAL.format(kind=kind, path=display_path(rel)))
        except OSError:
            continue
    return messages


def repository_paths(git: HostGit) -> list[str]:
    """Gitlinks and nested repositories, for a reader that must leave the worktree as it is."""
    return sorted(read_listing(git).repositories)


class StrayGuard:
    """A sandbox layer: after each command, strays are removed from the worktree and the command's
    output says so (the model reads it), and `notify` hears of each removal (the user does)."""

    def __init__(
        self, inner: Sandbox, git: HostGit, notify: Callable[[str], None] = lambda _message: None
    ) -> None:
        self.inner = inner
        self.git = git
        self.notify = notify

    @property
    def mode(self) -> str:
        return self.inner.mode

    def for_tool(self, tool: str) -> StrayGuard:
        inner = self.inner.for_tool(tool) if isinstance(self.inner, ToolAwareSandbox) else self.inner
        return StrayGuard(inner, self.git, self.notify)

    def run(
        self,
        command: str | Sequence[str],
        cwd: Path,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        result = self.inner.run(command, cwd, timeout, env)
        try:
            removed = remove_strays(self.git).messages
        except HostGitError as exc:
            removed = [f"could not check the worktree for nested repositories: {exc}"]
        for message in removed:
            self.notify(message)
        if not removed:
            return result
        notes = "".join(f"[{message}]\n" for message in removed)
        return result.model_copy(update={"output": f"{result.output.rstrip()}\n{notes}"})
