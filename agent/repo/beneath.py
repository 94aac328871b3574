"""Reading and writing a file below a directory without following a symbolic link on the way.

Host code that touches the agent's worktree by path must not read or write through a link the
model's commands planted, in place of the file or of any directory above it: each component is
opened relative to the one before (openat) with O_NOFOLLOW, and a FIFO or device is never read
or written (O_NONBLOCK, then fstat).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotRegularFile(OSError):
    """Something other than a regular file is where a file is expected."""


def _parts(rel: str) -> tuple[list[str], str]:
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if not parts or ".." in parts or PurePosixPath(rel).is_absolute():
        raise OSError(errno.EINVAL, f"not a path inside the directory: {rel!r}")
    return parts[:-1], parts[-1]


@contextlib.contextmanager
def _parent_fd(root: Path, rel: str, create: bool) -> Iterator[tuple[int, str]]:
    """An fd of `rel`'s directory, reached without following links (created when `create`)."""
    dirs, name = _parts(rel)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the root is ours
    try:
        for part in dirs:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            child = os.open(part, DIR_FLAGS, dir_fd=fd)  # ELOOP/ENOTDIR on a link or a file
            os.close(fd)
            fd = child
        yield fd, name
    finally:
        os.close(fd)


def read_beneath(root: Path, rel: str) -> bytes:
    """The bytes of the regular file `rel` below `root`. FileNotFoundError when nothing is there;
    another OSError when a link, directory or special file is there or on the way."""
    with _parent_fd(root, rel, create=False) as (parent, name):
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotRegularFile(errno.EINVAL, f"{rel} is not a regular file")
            return handle.read()


def write_beneath(root: Path, rel: str, data: bytes | None) -> None:
    """Make `rel` below `root` a regular file holding `data` (None: remove it). A link or special
    file in its place is replaced, not followed; a directory in its place is an error."""
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            _write(root, rel, None)
        return
    _write(root, rel, data)


def _write(root: Path, rel: str, data: bytes | None) -> None:
    with _parent_fd(root, rel, create=data is not None) as (parent, name):
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"{rel} is a directory")
        if mode is not None and (data is None or not stat.S_ISREG(mode)):
            os.unlink(name, dir_fd=parent)
        if data is None:
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(name, flags, 0o666, dir_fd=parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
