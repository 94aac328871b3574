"""Where a task's repository comes from, how its tests run, and how it is scored.

A `TaskSource` builds the repository (`materialize`), readies its test environment and names the
test command the agent uses (`prepare`), hands the oracle the reference files (`gold`), removes what
the agent must not see before it starts (`conceal`), and scores the working tree with the task's own
tests (`score`). Task sets are driven through their own
`materialize.py` command line; plain repositories are cloned and scored with pytest node ids.

Scoring runs the agent's change, model-written code, so it runs in the sandbox (agent/build.py
`scoring_sandbox`: the task's tree writable, network off, the environment scrubbed of keys and
tokens), given what else it must read (the task set's folder, the task venv's interpreter).
Building and preparing a task run the task set's own scripts on the host (they fetch sdists and
build the task's venv), with `script_env`: no keys or tokens either.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.batch.spec import TaskSpec
from sandbox.base import Sandbox
from sandbox.env import looks_secret
from sandbox.mounts import venv_paths

SETUP_TIMEOUT = 1800.0  # building a task can mean pip downloads and a venv
TEST_TIMEOUT = 1800.0
NO_PYTEST = "No module named pytest"
VENV_PYTEST = "-m pytest -q -p no:cacheprovider -rfE --tb=short --timeout=30"


class TaskSetupError(Exception):
    """A task could not be built, prepared or scored (not the agent's fault)."""


@dataclass(frozen=True)
class Score:
    resolved: bool
    failed: list[str] = field(default_factory=list)  # tests of the task that did not pass


SandboxFor = Callable[[Sequence[Path]], Sandbox]  # a scoring sandbox that may also read these paths


class TaskSource(Protocol):
    def materialize(self, spec: TaskSpec, dest: Path) -> None: ...

    def prepare(self, spec: TaskSpec, repo: Path) -> str | None: ...  # the agent's test command

    def score(self, spec: TaskSpec, repo: Path, sandbox_for: SandboxFor) -> Score: ...

    def gold(self, spec: TaskSpec, repo: Path) -> dict[str, str]: ...

    def conceal(self, spec: TaskSpec, repo: Path) -> None: ...


def script_env() -> dict[str, str]:
    """`tool_env` without anything that looks like a key or token: the task set's scripts need none."""
    return {k: v for k, v in tool_env().items() if not looks_secret(k)}


def tool_env() -> dict[str, str]:
    """The environment of the `agent fix` children: our python first on PATH, no GitHub credentials
    (the engine may need its API key; the sandbox keeps it from the commands)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env["PATH"] = our_path()
    return env


def our_path() -> str:
    """PATH with our interpreter's directory first (`python` is the one with pytest)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def sandboxed(sandbox: Sandbox, argv: list[str], repo: Path, what: str, timeout: float) -> str:
    """Run scoring in the sandbox, in the task's tree; its output (stdout and stderr together)."""
    result = sandbox.run(argv, repo, timeout, {"PATH": our_path()})
    if result.timed_out:
        raise TaskSetupError(f"{what} took longer than {timeout:.0f}s")
    return result.output


def task_venv_paths(repo: Path) -> list[Path]:
    """The task's venv and the interpreter it was made from (read in the sandbox)."""
    venv = repo / ".task" / "venv"
    return venv_paths(venv) if venv.is_dir() else []


def run(argv: list[str], cwd: Path | None, what: str, timeout: float, check: bool = True) -> str:
    """Run a helper command; its stdout, or TaskSetupError with the end of its output."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=script_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise TaskSetupError(f"{what} took longer than {timeout:.0f}s") from exc
    except OSError as exc:
        raise TaskSetupError(f"{what} could not start: {exc}") from exc
    if check and done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise TaskSetupError(f"{what} failed (exit code {done.returncode}):\n{tail}")
    return done.stdout


def _last_json(stdout: str, what: str) -> dict[str, object]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    raise TaskSetupError(f"{what} printed no JSON result:\n{stdout[-500:]}")


def restore(repo: Path, files: list[str]) -> None:
    """Put the task's test files back as committed, in case the agent edited them."""
    tracked = [f for f in files if run(["git", "ls-files", "--", f], repo, "git ls-files", 60).strip()]
    if tracked:
        run(["git", "checkout", "HEAD", "--", *tracked], repo, "restoring the test files", 60)


def test_files_of(spec: TaskSpec) -> list[str]:
    nodes = spec.fail_to_pass + spec.pass_to_pass
    return sorted(set(spec.test_files) | {node.split("::", 1)[0] for node in nodes})


def passed_nodes(output: str) -> set[str]:
    """Node ids pytest reports as `PASSED <id>` (with -rA)."""
    return {
        line[len("PASSED ") :].split(" - ", 1)[0].strip()
        for line in output.splitlines()
        if line.startswith("PASSED ")
    }


@dataclass(frozen=True)
class ScriptedSet:
    """A task set like shared/eval: `materialize.py ID DEST [--eval] [--tasks FILE]`, a venv in
    DEST/.task/venv (made by `--eval`), the reference files in DEST/.task/gold."""

    script: Path
    tasks_file: Path

    def _argv(self, spec: TaskSpec, dest: Path, *extra: str) -> list[str]:
        return [sys.executable, str(self.script), spec.id, str(dest), "--tasks", str(self.tasks_file), *extra]

    def materialize(self, spec: TaskSpec, dest: Path) -> None:
        run(self._argv(spec, dest), None, f"materialising {spec.id}", SETUP_TIMEOUT)

    def prepare(self, spec: TaskSpec, repo: Path) -> str | None:
        """`--eval` on the fresh tree builds the task's venv (and runs its tests once, as a baseline)."""
        out = run(self._argv(spec, repo, "--eval"), None, f"the test venv of {spec.id}", SETUP_TIMEOUT, False)
        python = repo / ".task" / "venv" / "bin" / "python"
        if not python.is_file():
            raise TaskSetupError(f"`materialize.py --eval` made no venv for {spec.id}:\n{out[-800:]}")
        return f"{shlex.quote(str(python))} {VENV_PYTEST}"

    def score(self, spec: TaskSpec, repo: Path, sandbox_for: SandboxFor) -> Score:
        restore(repo, test_files_of(spec))
        sandbox = sandbox_for([self.script.parent, self.tasks_file.parent, *task_venv_paths(repo)])
        what = f"scoring {spec.id}"
        out = sandboxed(sandbox, self._argv(spec, repo, "--eval"), repo, what, TEST_TIMEOUT)
        result = _last_json(out, what)
        failed = result.get("failed")
        failed_ids = [str(f) for f in failed] if isinstance(failed, list) else []
        return Score(bool(result.get("resolved")), failed_ids)

    def gold(self, spec: TaskSpec, repo: Path) -> dict[str, str]:
        gold_dir = repo / ".task" / "gold"
        missing = [f for f in spec.gold_files if not (gold_dir / f).is_file()]
        if missing or not spec.gold_files:
            raise TaskSetupError(f"{spec.id}: no reference file in .task/gold for {missing or 'the task'}")
        return {f: (gold_dir / f).read_bytes().decode("utf-8") for f in spec.gold_files}

    def conceal(self, spec: TaskSpec, repo: Path) -> None:
        """The reference files and the task record (test ids, notes) go; `--eval` needs neither."""
        shutil.rmtree(repo / ".task" / "gold", ignore_errors=True)
        (repo / ".task" / "task.json").unlink(missing_ok=True)


@dataclass(frozen=True)
class MiniBugsSet:
    """A task set like shared/minibugs: ID/task.json, ID/gold.patch, `materialize.py ID DEST [--eval]`."""

    folder: Path

    def materialize(self, spec: TaskSpec, dest: Path) -> None:
        argv = [sys.executable, str(self.folder / "materialize.py"), spec.id, str(dest)]
        run(argv, None, f"materialising {spec.id}", SETUP_TIMEOUT)

    def prepare(self, spec: TaskSpec, repo: Path) -> str | None:
        return spec.test_cmd

    def score(self, spec: TaskSpec, repo: Path, sandbox_for: SandboxFor) -> Score:
        restore(repo, test_files_of(spec))
        argv = [sys.executable, str(self.folder / "materialize.py"), spec.id, str(repo), "--eval"]
        what = f"scoring {spec.id}"
        result = _last_json(sandboxed(sandbox_for([self.folder]), argv, repo, what, TEST_TIMEOUT), what)
        resolved = bool(result.get("resolved"))
        return Score(resolved, [] if resolved else list(spec.fail_to_pass))

    def gold(self, spec: TaskSpec, repo: Path) -> dict[str, str]:
        """The reference files: gold.patch applied to the tree, read, and reverted."""
        patch = str(self.folder / spec.id / "gold.patch")
        run(["git", "apply", patch], repo, f"applying the gold patch of {spec.id}", 60)
        try:
            return {f: (repo / f).read_bytes().decode("utf-8") for f in spec.gold_files}
        finally:
            run(["git", "apply", "-R", patch], repo, f"reverting the gold patch of {spec.id}", 60)

    def conceal(self, spec: TaskSpec, repo: Path) -> None:
        pass  # the repository holds nothing of the fix


@dataclass(frozen=True)
class RepoSource:
    """A task naming a git repository (`repo`, relative to the task file) and maybe `base_commit`."""

    base: Path

    def materialize(self, spec: TaskSpec, dest: Path) -> None:
        source = (self.base / (spec.repo or "")).resolve()
        if not (source / ".git").exists():
            raise TaskSetupError(f"{spec.id}: repo {source} is not a git repository")
        run(["git", "clone", "--quiet", str(source), str(dest)], None, f"cloning {source}", SETUP_TIMEOUT)
        if spec.base_commit:
            checkout = ["git", "checkout", "--quiet", spec.base_commit]
            run(checkout, dest, f"checking out {spec.base_commit}", 60)

    def prepare(self, spec: TaskSpec, repo: Path) -> str | None:
        return spec.test_cmd

    def score(self, spec: TaskSpec, repo: Path, sandbox_for: SandboxFor) -> Score:
        nodes = spec.fail_to_pass + spec.pass_to_pass
        if not nodes:
            raise TaskSetupError(f"{spec.id}: scoring needs fail_to_pass (and pass_to_pass) test ids")
        restore(repo, test_files_of(spec))
        command = shlex.split(spec.test_cmd or "python -m pytest -q -p no:cacheprovider")
        sandbox = sandbox_for(task_venv_paths(repo))
        output = sandboxed(sandbox, [*command, "-rA", *nodes], repo, f"the tests of {spec.id}", TEST_TIMEOUT)
        if NO_PYTEST in output:
            raise TaskSetupError(f"the tests of {spec.id} cannot run: {command[0]} cannot import pytest")
        passed = passed_nodes(output)
        failed = [n for n in nodes if n not in passed]
        return Score(not failed, failed)

    def gold(self, spec: TaskSpec, repo: Path) -> dict[str, str]:
        raise TaskSetupError(f"{spec.id}: a plain repository task has no reference fix for --oracle")

    def conceal(self, spec: TaskSpec, repo: Path) -> None:
        pass
