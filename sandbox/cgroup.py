"""A pids cgroup per command: the process limit that holds even for root.

RLIMIT_NPROC is not enforced for root (the kernel exempts uid 0, user namespace or not), so a fork
bomb run by a root agent would fill the host's PID table. When the agent runs as root and a pids
controller is mounted (cgroup v1 `pids` hierarchy, or cgroup v2 with `pids` available), each command
runs in a fresh child cgroup of ours with `pids.max` set; `pids.events` tells whether the limit was
hit. Without one, `available()` is None and the caller falls back on RLIMIT_NPROC.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
import uuid
from pathlib import Path

REMOVE_WAIT_SECONDS = 1.0


def _mounts(mountinfo: str) -> list[tuple[str, str, str, list[str]]]:
    """(root, mount point, fstype, super options) of every cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], tail[0], tail[2].split(",")))
    return found


def _own_cgroup(proc_cgroup: str, controller: str | None) -> str | None:
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (
            controller and controller in controllers.split(",")
        ):
            return path
    return None


def _join(mount: str, root: str, path: str) -> Path:
    rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
    return Path(mount) / ("" if rel == "." else rel)


def find_parent(proc: Path = Path("/proc/self")) -> Path | None:
    """Our own cgroup in a hierarchy with the pids controller, if we may create children there."""
    try:
        mountinfo = (proc / "mountinfo").read_text()
        own = (proc / "cgroup").read_text()
    except OSError:
        return None
    for root, mount, fstype, options in _mounts(mountinfo):
        if fstype == "cgroup" and "pids" in options:
            path = _own_cgroup(own, "pids")
            if path is not None:
                return _checked(_join(mount, root, path))
    for root, mount, fstype, _options in _mounts(mountinfo):
        if fstype == "cgroup2":
            path = _own_cgroup(own, None)
            parent = _join(mount, root, path) if path is not None else None
            if parent and "pids" in _read(parent / "cgroup.controllers").split():
                with contextlib.suppress(OSError):  # only possible where no process sits in it
                    (parent / "cgroup.subtree_control").write_text("+pids")
                return _checked(parent)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _checked(parent: Path) -> Path | None:
    """The parent, if a child made in it gets a pids.max (writable by us)."""
    if not os.access(parent, os.W_OK):
        return None
    _remove_stale(parent)
    try:
        group = PidsGroup.create(parent, 1)
    except OSError:
        return None
    group.remove()
    return parent


def _remove_stale(parent: Path) -> None:
    """Groups left by an agent process that died before removing them (empty; rmdir is enough)."""
    for path in parent.glob("local-agent-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                path.rmdir()


class PidsGroup:
    """One command's cgroup. `enter` runs in the child between fork and exec."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._procs = str(path / "cgroup.procs")

    @classmethod
    def create(cls, parent: Path, max_pids: int) -> PidsGroup:
        path = parent / f"local-agent-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        group = cls(path)
        try:
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            group.remove()
            raise
        return group

    def enter(self) -> None:
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def limit_hit(self) -> bool:
        for line in _read(self.path / "pids.events").splitlines():
            key, _, count = line.partition(" ")
            if key == "max" and count.strip() not in ("", "0"):
                return True
        return False

    def remove(self) -> None:
        """Kill whatever is left in the group, then delete it (a group must be empty to go)."""
        deadline = time.monotonic() + REMOVE_WAIT_SECONDS
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    return  # a leftover empty group; the next run's stale cleanup removes it
            for pid in _read(self.path / "cgroup.procs").split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.01)
