"""The Python that runs a project's tests, found the way a developer would, and checked in the sandbox.

`candidates` lists the interpreters to try, most specific first (nothing runs here; it reads files):

1. the one the user named: `--python PATH` or the `python` config key (a repository's `.agent.toml`
   needs `agent trust` for it: naming an interpreter outside the repository makes its environment
   readable to the sandboxed commands, like `sandbox.read_paths`);
2. the environment the setup step prepared (`$AGENT_ENV`), when there is one;
3. the user's active virtual environment (`$VIRTUAL_ENV`);
4. a virtual environment in the repository: `.venv/` or `venv/` (named after uv or poetry when their
   lock file is there); a symlinked one is not followed (a cloned repository could ship one pointing
   anywhere: name it with `--python`);
5. poetry's central environment for this checkout (`~/.cache/pypoetry/virtualenvs/<name>-<hash>-py*`,
   the name poetry itself derives; poetry is never run), hatch's (`.hatch/*` in the repository, or
   its one environment under `~/.local/share/hatch/env/virtual/<name>/`), tox's (`.tox/*`);
6. `python3` and `python` on the sandbox's PATH; last, the agent's own interpreter.

Each brings the read-only mounts it needs (`Candidate.exposes`): the checkout around the agent's
worktree is hidden in the sandbox, and so is the home directory, so a venv there is bind-mounted at
its own path (its scripts and `pyvenv.cfg` hold absolute paths), with its base interpreter. Nothing
that would uncover a whole home directory or `/` is ever exposed.

`detect` runs each candidate *in the sandbox* until one imports pytest; `PythonEnv` says which, how
it was found, and, when none can, the one line that names the fix.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, computed_field

from sandbox.base import Sandbox

Source = Literal[
    "flag", "config", "setup", "virtual_env", "venv", "uv", "poetry", "hatch", "tox", "path", "agent"
]
SOURCE_WORDS: dict[str, str] = {
    "flag": "--python",
    "config": "the python setting",
    "setup": "the setup step's environment ($AGENT_ENV)",
    "virtual_env": "$VIRTUAL_ENV",
    "venv": "the repository's virtual environment",
    "uv": "uv's environment (uv.lock, .venv)",
    "poetry": "poetry's environment",
    "hatch": "hatch's environment",
    "tox": "a tox environment",
    "path": "PATH in the sandbox",
    "agent": "the agent's own interpreter",
}
REPO_VENVS = (".venv", "venv")
NAMED = ("flag", "config")  # the user's choice: no other interpreter is tried
PROBE = (
    "import sys; print('python', sys.executable, flush=True); "
    "import pytest; print('pytest', pytest.__version__)"
)
PROBE_TIMEOUT = 60.0
LACKS_PYTEST = "runs, but cannot import pytest"


class Candidate(BaseModel):
    """An interpreter to try: a path (or a name looked up on the sandbox's PATH), how it was found,
    and the directories the sandbox must show read-only for it to run."""

    interpreter: str
    source: Source
    exposes: list[str] = []


class Probe(BaseModel):
    """What running a candidate in the sandbox showed."""

    runs: bool
    pytest: bool
    executable: str = ""  # sys.executable as the interpreter reports it
    output: str = ""


class PythonEnv(BaseModel):
    """The interpreter the tests run with. `pytest` False: no candidate imports pytest; `interpreter`
    is then the one to install it into (the first that runs), or None when none runs at all."""

    interpreter: str | None
    source: Source | None
    pytest: bool
    tried: list[str] = []  # "<interpreter> (<source>): <what happened>", in order

    @property
    def found_by(self) -> str:
        return SOURCE_WORDS.get(self.source or "", "nothing")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def problem(self) -> str | None:
        """The one line saying the tests cannot run, and the fix; None when they can."""
        if self.pytest:
            return None
        tail = 'or give the command that runs the tests: --test-cmd "..." (test_command in the config)'
        if self.interpreter is None:
            return (
                "no Python interpreter runs in the sandbox, so the tests cannot run: name one with "
                f"--python PATH, {tail}"
            )
        python = shlex.quote(self.interpreter)
        return (
            f"the tests cannot run: {self.interpreter} ({self.found_by}) cannot import pytest. "
            f"Fix: {python} -m pip install pytest, {tail}"
        )

    def summary(self) -> str:
        """One line for a run that can test: which interpreter, found how (and an environment tried
        before it that lacks pytest: the project's, probably)."""
        line = f"tests run with {self.interpreter} ({self.found_by})"
        passed_over = [t for t in self.tried if t.endswith(LACKS_PYTEST)]
        if passed_over:
            python = passed_over[0].split(" (", 1)[0]
            line += f"; {passed_over[0]}: {shlex.quote(python)} -m pip install pytest to use it"
        return line


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _home_dirs(env: Mapping[str, str]) -> list[Path]:
    homes = [Path(env["HOME"])] if env.get("HOME") else []
    homes.append(Path.home())
    return [_real(h) for h in homes if h.is_absolute()]


def safe_exposures(paths: Iterable[Path], homes: Iterable[Path]) -> list[str]:
    """Existing absolute directories that uncover neither `/` nor a whole home directory."""
    homes = list(homes)
    safe: list[str] = []
    for path in paths:
        real = _real(path)
        if not path.is_absolute() or not real.is_dir() or real == Path("/"):
            continue
        if any(real == home or real in home.parents for home in homes):
            continue
        safe.append(str(real))
    return list(dict.fromkeys(safe))


def _base_prefix(venv: Path) -> Path | None:
    """The prefix of the interpreter a venv was made from (`home` in pyvenv.cfg), when a python is
    really there (the file may come with a cloned repository)."""
    cfg = venv / "pyvenv.cfg"
    for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = Path(value.strip())
            if any((home / name).is_file() for name in ("python3", "python")):
                return home.parent
    return None


def is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() and (path / "bin" / "python").exists()


def venv_candidate(venv: Path, source: Source, homes: list[Path]) -> Candidate:
    base = _base_prefix(venv)
    exposes = safe_exposures([venv, *([base] if base else [])], homes)
    return Candidate(interpreter=str(venv / "bin" / "python"), source=source, exposes=exposes)


def named_candidate(interpreter: str, source: Source, checkout: Path, homes: list[Path]) -> Candidate:
    """The interpreter the user named (relative: to the repository); its venv, or its prefix, shown."""
    path = Path(interpreter).expanduser()
    path = path if path.is_absolute() else checkout / path
    prefix = path.parent.parent
    if is_venv(prefix):
        return venv_candidate(prefix, source, homes).model_copy(update={"interpreter": str(path)})
    return Candidate(
        interpreter=str(path), source=source, exposes=safe_exposures([_real(path).parent.parent], homes)
    )


def _project_name(checkout: Path) -> str | None:
    path = checkout / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return None
    poetry = data.get("tool", {}).get("poetry", {})
    name = poetry.get("name") or data.get("project", {}).get("name")
    return name if isinstance(name, str) and name else None


def poetry_env_prefix(name: str, checkout: Path) -> str:
    """The start of the directory name poetry gives this checkout's environment: the project name
    (lower case, shell-special characters as `_`, at most 42 of them), then 8 characters of the
    URL-safe base64 SHA-256 of the checkout's real path."""
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    digest = hashlib.sha256(os.path.normcase(os.path.realpath(checkout)).encode()).digest()
    return f"{sanitized}-{base64.urlsafe_b64encode(digest).decode()[:8]}-py"


def _data_home(env: Mapping[str, str], variable: str, default: str) -> Path:
    given = env.get(variable)
    return Path(given) if given and Path(given).is_absolute() else Path.home() / default


def central_venvs(checkout: Path, env: Mapping[str, str]) -> list[tuple[Path, Source]]:
    """Poetry's and hatch's environments for this checkout outside it, when their config is there."""
    found: list[tuple[Path, Source]] = []
    name = _project_name(checkout)
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8", errors="replace") if pyproject.is_file() else ""
    if name and ((checkout / "poetry.lock").is_file() or "[tool.poetry" in text):
        store = _data_home(env, "XDG_CACHE_HOME", ".cache") / "pypoetry" / "virtualenvs"
        prefix = poetry_env_prefix(name, checkout)
        found += [(p, "poetry") for p in sorted(store.glob(f"{glob_escape(prefix)}*")) if is_venv(p)]
    if (checkout / "hatch.toml").is_file() or "[tool.hatch" in text:
        found += [(p, "hatch") for p in sorted((checkout / ".hatch").glob("*")) if is_venv(p)]
        if name:
            store = _data_home(env, "XDG_DATA_HOME", ".local/share") / "hatch" / "env" / "virtual" / name
            hashes = [p for p in store.glob("*") if p.is_dir()]
            if len(hashes) == 1:  # more: other checkouts' too, and which is this one's is not known
                found += [(p, "hatch") for p in sorted(hashes[0].glob("*")) if is_venv(p)]
    return found


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def repo_venvs(checkout: Path) -> list[tuple[Path, Source]]:
    """`.venv/`, `venv/` and `.tox/*` in the repository, named after the tool that made them."""
    found: list[tuple[Path, Source]] = []
    for name in REPO_VENVS:
        path = checkout / name
        if path.is_symlink() or not is_venv(path):
            continue
        source: Source = "venv"
        if name == ".venv" and (checkout / "uv.lock").is_file():
            source = "uv"
        elif name == ".venv" and (checkout / "poetry.lock").is_file():
            source = "poetry"
        found.append((path, source))
    if (checkout / "tox.ini").is_file() or (checkout / ".tox").is_dir():
        tox = sorted(p for p in (checkout / ".tox").glob("*") if not p.is_symlink() and is_venv(p))
        found += [(p, "tox") for p in sorted(tox, key=lambda p: (not p.name.startswith("py"), p.name))]
    return found


def candidates(
    checkout: Path,
    env: Mapping[str, str] = os.environ,
    named: tuple[str, Source] | None = None,
    setup_env: Path | None = None,
) -> list[Candidate]:
    """The interpreters to try for the repository checked out at `checkout`, in order (module doc).
    `named`: the user's `--python` or `python` setting, and which; `setup_env`: `$AGENT_ENV`."""
    homes = _home_dirs(env)
    found: list[Candidate] = []
    if named is not None:
        found.append(named_candidate(named[0], named[1], checkout, homes))
    if setup_env is not None:  # made by the setup step, maybe after this list; the sandbox shows it
        found.append(Candidate(interpreter=str(setup_env / "bin" / "python"), source="setup"))
    active = env.get("VIRTUAL_ENV")
    if active and Path(active).is_absolute() and is_venv(Path(active)):
        found.append(venv_candidate(Path(active), "virtual_env", homes))
    for venv, source in [*repo_venvs(checkout), *central_venvs(checkout, env)]:
        found.append(venv_candidate(venv, source, homes))
    found += [Candidate(interpreter=name, source="path") for name in ("python3", "python")]
    found.append(Candidate(interpreter=sys.executable, source="agent"))
    return _unique(found)


def _unique(found: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    kept = []
    for candidate in found:
        if candidate.interpreter not in seen:
            seen.add(candidate.interpreter)
            kept.append(candidate)
    return kept


def exposures(found: Iterable[Candidate]) -> list[Path]:
    """Every directory the candidates need shown read-only in the sandbox."""
    return [Path(p) for p in dict.fromkeys(p for c in found for p in c.exposes)]


def read_probe(exit_ok: bool, output: str) -> Probe:
    """What the probe printed: `python <executable>` once it started, `pytest <version>` once imported."""
    lines = output.splitlines()
    executable = next((line[len("python ") :] for line in lines if line.startswith("python /")), "")
    has_pytest = exit_ok and any(line.startswith("pytest ") for line in lines)
    return Probe(runs=bool(executable), pytest=has_pytest, executable=executable, output=output[-500:])


# runs argv in the sandbox, in the worktree: (exit code 0, output)
Runner = Callable[[list[str]], tuple[bool, str]]


def detect(found: Iterable[Candidate], run: Runner) -> PythonEnv:
    """The first candidate that imports pytest in the sandbox; else the first that runs, without.
    The one the user named (`--python`, the `python` setting) is the only one tried."""
    tried: list[str] = []
    first_running: Candidate | None = None
    for candidate in found:
        probe = read_probe(*run([candidate.interpreter, "-c", PROBE]))
        where = f"{candidate.interpreter} ({SOURCE_WORDS[candidate.source]})"
        if candidate.source == "path" and probe.runs:  # a name: the interpreter it found
            candidate = candidate.model_copy(update={"interpreter": probe.executable})
        if probe.pytest:
            tried.append(f"{where}: imports pytest")
            return PythonEnv(
                interpreter=candidate.interpreter, source=candidate.source, pytest=True, tried=tried
            )
        tried.append(f"{where}: {LACKS_PYTEST if probe.runs else 'does not run'}")
        if probe.runs and first_running is None:
            first_running = candidate
        if candidate.source in NAMED:
            break
    if first_running is None:
        return PythonEnv(interpreter=None, source=None, pytest=False, tried=tried)
    return PythonEnv(
        interpreter=first_running.interpreter, source=first_running.source, pytest=False, tried=tried
    )


def sandbox_runner(sandbox: Sandbox, cwd: Path, env: Mapping[str, str] | None = None) -> Runner:
    """A `Runner` for `detect`: the probe in `sandbox`, in `cwd` (the worktree)."""

    def run(argv: list[str]) -> tuple[bool, str]:
        result = sandbox.run(argv, cwd, PROBE_TIMEOUT, dict(env or {}))
        return result.ok, result.output

    return run
