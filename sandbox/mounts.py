"""What a bubblewrap sandbox sees: the mount plan, computed from the host and the command's directory.

The plan, in mount order (later mounts lie on top of earlier ones):
1. the host filesystem read-only (`/`), a fresh `/dev` and a `/proc` for the new PID namespace;
2. hidden places: the user's home directory (dotfiles, ~/.ssh, ~/.aws, tokens), `/tmp`, `/var/tmp`,
   `/run` (docker, ssh-agent and D-Bus sockets live there) and `/dev/shm` become empty private tmpfs;
3. what commands need from inside those hidden places, read-only: the Python interpreter's prefixes,
   the active virtual environment and its base interpreter, PATH directories (and the pyenv or
   rbenv tree behind a `shims` one), the repository's git directories, and the paths the user lists
   in `[sandbox] read_paths`;
4. the working directory (the worktree): writable, or read-only under the `read-only` policy; when
   it lies inside the user's own checkout (`agent fix` puts it in `.git/.agent/worktrees/`), that
   checkout shows as an empty read-only directory around it: a write there fails loudly, and its
   files (untracked ones like `.env` too) stay hidden, while what commands need inside it (the
   git dir, an active virtual environment) is re-exposed read-only;
5. the worktree's `.git` (file or directory) and a git common dir inside the worktree, read-only
   again on top, so a command cannot plant hooks or point `.git` at a config that would run code
   when the agent later runs git on the host;
6. extra writable places the caller names (the setup step's environment directory).

Nothing here runs a process; `plan_mounts` is a pure function of its inputs.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ALWAYS_HIDDEN = (Path("/tmp"), Path("/var/tmp"), Path("/run"))


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def inside(path: Path, area: Path) -> bool:
    return path == area or area in path.parents


def home_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """The user's home as $HOME says and as the password database says (they can differ)."""
    found = [Path(env["HOME"])] if env.get("HOME") else []
    with contextlib.suppress(KeyError):
        found.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return [_real(p) for p in dict.fromkeys(found) if p.is_absolute() and p != Path("/")]


def venv_paths(venv: Path) -> list[Path]:
    """A virtual environment and the interpreter it was made from (`home` in pyvenv.cfg)."""
    paths = [venv]
    cfg = venv / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                paths.append(Path(value.strip()).parent)  # .../bin -> the prefix
    return paths


def shim_roots(path_dirs: Iterable[Path]) -> list[Path]:
    """Version managers' trees behind a `shims` directory on PATH (pyenv, rbenv): a shim runs
    `<root>/libexec/<tool> exec ...`, which reads the whole tree (versions, plugins)."""
    return [d.parent for d in path_dirs if d.name == "shims" and (d.parent / "libexec").is_dir()]


def runtime_paths(env: Mapping[str, str] = os.environ) -> list[Path]:
    """What commands need to run: our interpreter, the active venv, the PATH directories, and the
    version manager trees their shims need."""
    paths = [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}]
    paths.append(_real(Path(sys.executable)).parent.parent)
    for venv in (sys.prefix, env.get("VIRTUAL_ENV")):
        if venv:
            paths += venv_paths(Path(venv))
    path_dirs = [Path(p) for p in env.get("PATH", "").split(os.pathsep) if p]
    return [*paths, *path_dirs, *shim_roots(path_dirs)]


def git_paths(cwd: Path) -> list[Path]:
    """The `.git` entry above `cwd`, the git dir it points to, and the common dir (for worktrees)."""
    for top in (cwd, *cwd.parents):
        dot_git = top / ".git"
        if dot_git.exists():
            break
    else:
        return []
    paths = [dot_git]
    git_dir = dot_git
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            return paths
        git_dir = (top / text.removeprefix("gitdir:").strip()).resolve()
        paths.append(git_dir)
    common = git_dir / "commondir"
    if common.is_file():
        paths.append((git_dir / common.read_text(encoding="utf-8").strip()).resolve())
    return paths


@dataclass(frozen=True)
class MountPlan:
    hidden: tuple[Path, ...]  # empty private tmpfs
    exposed: tuple[Path, ...]  # read-only, inside hidden places
    writable: tuple[Path, ...]
    protected: tuple[Path, ...]  # read-only again, on top of a writable place
    sealed: tuple[Path, ...] = ()  # the user's checkout: an empty read-only directory around the binds
    extra_writable: tuple[Path, ...] = ()  # asked for by the caller (the setup's environment dir)

    def args(self, tmpfs_bytes: int | None) -> list[str]:
        """bwrap arguments; `tmpfs_bytes` None for a bwrap without `--size` (tmpfs unbounded)."""

        def tmpfs(path: Path, size: int | None) -> list[str]:
            return (["--size", str(size)] if size is not None else []) + ["--tmpfs", str(path)]

        args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for path in (*self.hidden, Path("/dev/shm")):
            args += tmpfs(path, tmpfs_bytes)
        for path in self.sealed:
            args += tmpfs(path, 65536 if tmpfs_bytes is not None else None)
        for path in self.exposed:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.writable:
            args += ["--bind", str(path), str(path)]
        for path in self.protected:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.extra_writable:
            args += ["--bind", str(path), str(path)]
        for path in self.sealed:
            args += ["--remount-ro", str(path)]
        return args


class MountError(Exception):
    """The working directory cannot be isolated (it is `/` or contains the home directory)."""


def _existing(paths: Iterable[Path]) -> list[Path]:
    real = [_real(p) for p in paths if p.is_absolute() and p.exists()]
    return sorted(dict.fromkeys(real), key=lambda p: (len(p.parts), str(p)))


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop paths lying inside another path of the list (one read-only bind covers them)."""
    return [p for p in paths if not any(q != p and inside(p, q) for q in paths)]


def plan_mounts(
    cwd: Path,
    writable: bool,
    homes: Iterable[Path],
    runtime: Iterable[Path],
    read_paths: Iterable[Path] = (),
    write_paths: Iterable[Path] = (),
) -> MountPlan:
    """The mounts for a command in `cwd` (see the module docstring)."""
    work = _real(cwd)
    if work == Path("/"):
        raise MountError("the working directory is /: run the agent inside a project directory")
    hidden = _existing([*homes, *ALWAYS_HIDDEN])
    for area in hidden:
        if inside(area, work) and area not in ALWAYS_HIDDEN:
            raise MountError(
                f"{work} contains your home directory {area}: run the agent inside a project directory"
            )
    extra_writable = _existing(write_paths)
    git = _existing(git_paths(work))
    sealed = _checkouts(git, work)
    areas = [*hidden, *sealed]
    in_hidden = [p for p in _existing([*runtime, *read_paths, *git]) if any(inside(p, h) for h in areas)]
    # a runtime path that would uncover a whole hidden place (PATH holding ~ itself) is left out
    wanted = set(_existing(read_paths))
    covering = [p for p in in_hidden if p not in wanted and any(inside(h, p) for h in hidden)]
    exposed = _outermost(
        [p for p in in_hidden if not inside(p, work) and p not in extra_writable and p not in covering]
    )
    places = [work] if writable else []
    protected = _outermost([p for p in git if any(inside(p, w) for w in places)])
    return MountPlan(
        hidden=tuple(hidden),
        exposed=tuple(exposed) + (() if writable else (work,)),
        writable=tuple(places),
        protected=tuple(protected),
        sealed=tuple(sealed),
        extra_writable=tuple(extra_writable),
    )


def _checkouts(git: list[Path], work: Path) -> list[Path]:
    """The user's own checkout (the parent of a `.git` common dir) when it holds the worktree: it
    shows as an empty read-only directory, so a write to it fails loudly (EROFS) and its files,
    untracked ones like `.env` included, stay hidden; the agent's worktree has the tracked ones."""
    found = []
    for path in git:
        checkout = path.parent
        if path.name == ".git" and path.is_dir() and work != checkout and inside(work, checkout):
            found.append(checkout)
    return _outermost(found)
