"""What host git must never meet in the agent's worktree: nested repositories and special files.

`git add -A` records a directory holding a git repository as a gitlink and from then on runs
`git status` inside it with that repository's own config: its fsmonitor, filter drivers and hooks
would run on the host. A FIFO, socket or device file where git expects a file makes `git add`
fail, and one named `.gitignore` or `.gitattributes` makes git hang (it opens it and waits). So
before host git stages the worktree, and after each command the model runs, every nested `.git`
(file or directory, at any depth, not ignored) and every such special file is removed, and the
model is told.

Git is only asked what it can answer without opening those files, in this order: one `git
ls-files` without ignore rules lists the index and the untracked paths, whole untracked
directories as one entry; the tracked directories are looked at (one lstat per name: `.git`,
`.gitignore`, `.gitattributes`); only then is git asked which tracked files changed (`ls-files
-m` may read `.gitattributes` to compare contents) and which untracked directories are ignored
(`git check-ignore`, which reads the `.gitignore` files of the tracked directories above them),
and the untracked directories git does not ignore are walked, the model's new files being there.
Ignored directories (.venv, node_modules) are not walked. Nothing is followed through a symbolic
link: a directory is looked into only when every component of its path is a real directory.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.repo.host_git import HostGit, HostGitError, display_path

NESTED = "nested git repository"
READ_BY_GIT = (".gitignore", ".gitattributes")  # opened by git in every directory it visits
READ_AT_TOP = (".gitmodules",)
GITLINK_MODE = b"160000"
REMOVED = {
    NESTED: "the agent's worktree may not hold nested repositories",
    "special": "the agent's worktree may hold only files, directories and symbolic links",
}


@dataclass(frozen=True)
class Stray:
    path: str  # relative to the worktree: a `.git` entry, or a special file
    kind: str  # NESTED, "FIFO", "socket" or "device file"
    blocking: bool = False  # a special file git would open (and wait on)

    @property
    def holder(self) -> str:
        """The directory it is in ("" for the top)."""
        return self.path.rpartition("/")[0]

    def removed(self) -> str:
        why = REMOVED[NESTED] if self.kind == NESTED else REMOVED["special"]
        return f"removed {self.kind} {display_path(self.path)}: {why}"


@dataclass
class Listing:
    """`git ls-files -z -s -c -o --directory`, sorted out (no ignore rule nor attribute is read)."""

    dirs: set[str] = field(default_factory=lambda: {""})  # directories holding tracked paths
    gitlinks: list[str] = field(default_factory=list)
    untracked_dirs: list[str] = field(default_factory=list)  # whole untracked directories


def read_listing(git: HostGit) -> Listing:
    """Bytes are worked on as they come (a big index has 100,000 lines)."""
    raw = git.run("ls-files", "-z", "-t", "-s", "-c", "-o", "--directory")
    dirs: set[bytes] = set()
    listing = Listing()
    for record in raw.split(b"\0"):
        if record[:2] == b"? ":
            if record.endswith(b"/"):
                listing.untracked_dirs.append(os.fsdecode(record[2:].rstrip(b"/")))
            continue  # an untracked file sits in a tracked directory
        if not record:
            continue
        path = record[record.index(b"\t") + 1 :]
        if record[2:8] == GITLINK_MODE:
            listing.gitlinks.append(os.fsdecode(path))
        parent = path.rpartition(b"/")[0]
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = parent.rpartition(b"/")[0]
    listing.dirs |= {os.fsdecode(d) for d in dirs}
    return listing


class RealDirs:
    """Which relative paths are directories all the way down (no component a symbolic link)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._known: dict[str, bool] = {"": True}

    def __call__(self, rel: str) -> bool:
        if rel not in self._known:
            parent = rel.rpartition("/")[0]
            self._known[rel] = self(parent) and stat.S_ISDIR(_mode(os.path.join(self.root, rel)) or 0)
        return self._known[rel]


def _mode(path: str) -> int | None:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def special_kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return None


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _look_in(root: str, rel: str, handle: Callable[[Stray], None]) -> None:
    """A tracked directory: its `.git` (not the top's: the worktree's own), and the files git opens
    there when they are special."""
    if rel and _mode(os.path.join(root, rel, ".git")) is not None:
        handle(Stray(_join(rel, ".git"), NESTED))
    for name in READ_BY_GIT + (READ_AT_TOP if rel == "" else ()):
        mode = _mode(os.path.join(root, rel, name))
        kind = special_kind(mode) if mode is not None else None
        if kind is not None:
            handle(Stray(_join(rel, name), kind, blocking=True))


def _walk(root: str, top: str, handle: Callable[[Stray], None]) -> None:
    """An untracked directory git does not ignore, all of it (no link followed, no `.git` entered)."""
    pending = [top]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(os.path.join(root, current)) as entries:
                found = list(entries)
        except OSError:  # unreadable: git cannot look in either
            continue
        for entry in found:
            rel = _join(current, entry.name)
            if entry.name == ".git":
                handle(Stray(rel, NESTED))
            elif entry.is_dir(follow_symlinks=False):
                pending.append(rel)
            elif not entry.is_file(follow_symlinks=False) and not entry.is_symlink():
                kind = special_kind(entry.stat(follow_symlinks=False).st_mode)
                if kind is not None:
                    handle(Stray(rel, kind, blocking=entry.name in READ_BY_GIT))


def _not_ignored(git: HostGit, dirs: list[str]) -> list[str]:
    if not dirs:
        return []
    given = b"".join(os.fsencode(d) + b"\0" for d in dirs)
    out = git.run("check-ignore", "-z", "--stdin", stdin=given, ok_codes=(0, 1))
    ignored = {os.fsdecode(p) for p in out.split(b"\0") if p}
    return [d for d in dirs if d not in ignored]


def find_strays(git: HostGit, handle: Callable[[Stray], None]) -> list[str]:
    """Call `handle` on every stray, in the order described above; it removes the stray, or
    raises. Returns the index's gitlinks."""
    root = str(git.work_tree)
    listing = read_listing(git)
    real = RealDirs(root)
    for rel in sorted(listing.dirs | set(listing.gitlinks)):
        if real(rel):
            _look_in(root, rel, handle)
    for rel in git.paths("ls-files", "-z", "-m"):
        mode = _mode(os.path.join(root, rel)) if real(rel.rpartition("/")[0]) else None
        kind = special_kind(mode) if mode is not None else None
        if kind is not None:
            handle(Stray(rel, kind))
    untracked = [d for d in listing.untracked_dirs if real(d)]
    for rel in _not_ignored(git, untracked):
        _walk(root, rel, handle)
    return listing.gitlinks


@dataclass
class Sweep:
    """What `remove_strays` did: a message per removal, and the directories holding a nested
    repository it could not remove (staging leaves them out)."""

    messages: list[str] = field(default_factory=list)
    left: set[str] = field(default_factory=set)


def remove_strays(git: HostGit) -> Sweep:
    """Remove nested repositories and special files from the worktree."""
    sweep = Sweep()

    def remove(stray: Stray) -> None:
        try:
            _remove_path(os.path.join(git.work_tree, stray.path))
        except FileNotFoundError:
            return
        except OSError as exc:
            message = f"could not remove {stray.kind} {display_path(stray.path)}: {exc}"
            if stray.blocking:  # git would wait on it: no git may run here
                raise HostGitError(message) from exc
            sweep.messages.append(message)
            sweep.left.add(stray.holder)
            return
        sweep.messages.append(stray.removed())

    find_strays(git, remove)
    return sweep


def unreadable_paths(git: HostGit) -> list[str]:
    """For a reader that must leave the worktree as it is (the TUI's live diff): the gitlinks and
    the directories holding a nested repository, to leave out. Raises HostGitError when a special
    file stands where git would open it."""
    holders: list[str] = []

    def note(stray: Stray) -> None:
        if stray.blocking:
            raise HostGitError(f"{stray.kind} {display_path(stray.path)} would make git wait")
        if stray.kind == NESTED:
            holders.append(stray.holder)

    gitlinks = find_strays(git, note)
    return sorted(set(holders) | set(gitlinks))


def _remove_path(path: str) -> None:
    """Remove `path` (a directory with all it holds), making it writable first when it is not."""
    try:
        _remove_once(path)
    except FileNotFoundError:
        raise
    except OSError:
        _make_writable(path)
        _remove_once(path)


def _remove_once(path: str) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)  # follows no symbolic link inside
    else:
        os.unlink(path)


def _make_writable(path: str) -> None:
    """u+rwx on `path`'s directory and, for a directory, on every directory in it (links not followed)."""
    parent = os.path.dirname(path)
    os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
    pending = [path] if stat.S_ISDIR(os.lstat(path).st_mode) else []
    while pending:
        current = pending.pop()
        os.chmod(current, stat.S_IMODE(os.lstat(current).st_mode) | stat.S_IRWXU)
        with os.scandir(current) as entries:
            pending += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
