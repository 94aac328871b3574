"""run_tests: run the project's tests (the configured command, or pytest when detected) and count results.

`data` holds passed/failed/errors/skipped, the failing node ids, exit_code, command, timed_out,
counts_known (a pytest summary line was found), no_tests (no suite at all, or an empty one) and ok.
`ok` is True only for exit code 0 with at least one passing test; for a configured command whose
output has no pytest summary, exit code 0 is enough.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field, field_validator

from agent.repo.files import close_names, repo_files
from agent.repo.languages import is_test_path
from agent.repo.python_env import Candidate, detect, sandbox_runner
from sandbox.output import cap_text
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult

NO_TESTS_COLLECTED = 5
USAGE_ERROR = 4
KEEP_COLLECTING = "--continue-on-collection-errors"
PYTEST_OPTIONS = ("-q", "-p", "no:cacheprovider", "-rfE", "--tb=short", KEEP_COLLECTING)
_SHELL_SYNTAX = re.compile(r"[;&|<>`$()\n]")
_LAUNCHERS = {"uv", "poetry", "pdm", "hatch", "pipenv", "run", "exec", "-m"}  # and any python*
_SUMMARY = re.compile(r"^=*\s*(?:\d+ [a-z]+(?:, )?)+ in [\d.]+s|^=*\s*no tests ran in [\d.]+s")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")
_SHORT_SUMMARY = re.compile(r"^(FAILED|ERROR) ([^\s\[]+(?:\[[^\]]*\])?)")  # node id, params kept
_CONFIG_SECTIONS = {"pyproject.toml": "[tool.pytest", "setup.cfg": "[tool:pytest]", "tox.ini": "[pytest]"}


class Args(ToolArgs):
    paths: list[str] = Field(
        default_factory=list, description="test files or node ids like 'tests/test_x.py::test_y'; empty = all"
    )
    keyword: str | None = Field(None, description="only tests whose name matches this pytest -k expression")

    @field_validator("keyword")
    @classmethod
    def _expression_only(cls, value: str | None) -> str | None:
        """Small models write the whole command (`pytest -k 'test_x'`): keep the -k expression."""
        return keyword_expression(value)


def keyword_expression(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    if "-k" in words[:-1]:
        return words[words.index("-k") + 1]
    if words and words[0] in ("pytest", "py.test", "python", "python3"):
        return None  # a command with no expression: run the selected paths
    return text


def _configures_pytest(root: Path) -> bool:
    if (root / "pytest.ini").is_file() or (root / "conftest.py").is_file():
        return True
    for name, section in _CONFIG_SECTIONS.items():
        path = root / name
        if path.is_file() and section in path.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def has_pytest_suite(root: Path) -> bool:
    """pytest configuration, a tests/ directory, or test_*.py / *_test.py files anywhere in the repo."""
    if _configures_pytest(root) or (root / "tests").is_dir() or (root / "test").is_dir():
        return True
    names = (rel.rsplit("/", 1)[-1] for rel in repo_files(root))
    return any(n.endswith(".py") and (n.startswith("test_") or n.endswith("_test.py")) for n in names)


def pytest_python(ctx: ToolContext) -> str:
    """The interpreter found before the run (`ctx.python`); else (`agent tool`, `agent mcp serve`)
    the first python on the sandbox's PATH that imports pytest, or ours, probed once per context
    and worktree (the answer is kept in `ctx.cache`)."""
    if ctx.python:
        return ctx.python
    key = f"run_tests.python:{ctx.root}"
    if key not in ctx.cache:
        found = [Candidate(interpreter=n, source="path") for n in ("python3", "python")]
        found.append(Candidate(interpreter=sys.executable, source="agent"))
        env = detect(found, sandbox_runner(ctx.sandbox_for("run_tests"), ctx.root, ctx.command_env()))
        ctx.cache[key] = env.interpreter or sys.executable
    return str(ctx.cache[key])


def parse_pytest(output: str) -> dict[str, Any]:
    """Counts from pytest's final summary line and the node ids of its short test summary."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    lines = output.splitlines()
    summary = [line for line in lines if _SUMMARY.match(line.strip())]
    for number, kind in _COUNT.findall(summary[-1] if summary else ""):
        counts["errors" if kind.startswith("error") else kind] = int(number)
    failing = [m.group(2) for line in lines if (m := _SHORT_SUMMARY.match(line))]
    return {**counts, "failing": list(dict.fromkeys(failing)), "counts_known": bool(summary)}


def _check_paths(ctx: ToolContext, paths: list[str]) -> None:
    for given in paths:
        file_part = given.split("::", 1)[0]
        if not ctx.resolve(file_part).exists():
            close = close_names(file_part, repo_files(ctx.root), limit=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ToolError(f"test path not found: {file_part}.{hint}")


def tests_of(source: str, files: list[str]) -> list[str]:
    """The test files named after a source file: test_x.py, x_test.py/.go, x.test.js, x.spec.ts..."""
    stem = PurePosixPath(source).stem
    names = {f"test_{stem}", f"{stem}_test", f"{stem}.test", f"{stem}.spec", f"{stem}Test", f"{stem}Tests"}
    return [f for f in files if is_test_path(f) and PurePosixPath(f).stem in names]


def selected_tests(ctx: ToolContext, paths: list[str]) -> tuple[list[str], list[str]]:
    """The given paths with each source file replaced by its tests (or dropped when it has none):
    small models ask run_tests for the file they changed, and pytest collects nothing from it."""
    selected: list[str] = []
    notes: list[str] = []
    for given in paths:
        file_part = given.split("::", 1)[0]
        if is_test_path(file_part) or not ctx.resolve(file_part).is_file():
            selected.append(given)
            continue
        found = tests_of(file_part, repo_files(ctx.root))
        selected += [f for f in found if f not in selected]
        if found:
            notes.append(f"{file_part} is not a test file: ran the tests named after it, {', '.join(found)}")
        else:
            notes.append(f"{file_part} is not a test file and no test file is named after it: left out")
    return selected, notes


def build_command(args: Args, ctx: ToolContext) -> str | None:
    """The shell command to run, or None when there is no test suite to run."""
    _check_paths(ctx, args.paths)
    selection = [shlex.quote(p) for p in args.paths]
    if args.keyword:
        selection += ["-k", shlex.quote(args.keyword)]
    if ctx.test_command:
        return " ".join([keeps_collecting(ctx.test_command), *selection])
    if not has_pytest_suite(ctx.root):
        return None
    return " ".join([shlex.quote(pytest_python(ctx)), "-m", "pytest", *PYTEST_OPTIONS, *selection])


def keeps_collecting(command: str) -> str:
    """pytest runs no test at all when one file fails to import (exit 2, "Interrupted: 1 error during
    collection"): one broken file would hide the whole suite, before and after the change. A
    configured command that runs pytest itself gets --continue-on-collection-errors (the broken file
    is still reported, as an error); anything else (make, tox, a shell line) runs as written."""
    if KEEP_COLLECTING in command or _SHELL_SYNTAX.search(command):
        return command
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    for word in words:
        if PurePosixPath(word).name in ("pytest", "py.test"):
            return f"{command} {KEEP_COLLECTING}"
        if word not in _LAUNCHERS and not PurePosixPath(word).name.startswith("python"):
            return command
    return command


def verdict(data: dict[str, Any], timeout: float) -> str:
    if data["timed_out"]:
        return f"TESTS TIMED OUT after {timeout:.0f}s (killed); run fewer tests or fix a hang"
    if data["exit_code"] == NO_TESTS_COLLECTED:
        return "NO TESTS RAN (exit code 5): no test was collected; check the paths or the keyword"
    if data["exit_code"] == USAGE_ERROR:
        return "TEST COMMAND USAGE ERROR (exit code 4): check the paths and the keyword"
    head = "TESTS PASSED" if data["ok"] else "TESTS FAILED"
    if not data["counts_known"]:
        return f"{head} (exit code {data['exit_code']})"
    line = f"{head}: {data['passed']} passed, {data['failed']} failed, {data['errors']} errors"
    if data["ok"] is False and data["passed"] == data["failed"] == data["errors"] == 0:
        line += " (nothing passed)"
    failing = data["failing"][:10]
    return line + "".join(f"\n  failing: {node}" for node in failing)


class RunTests:
    name = "run_tests"
    kind: ToolKind = "run"
    description = "Run the tests (all, or the given files / node ids) and report passes and failures."
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        paths, notes = selected_tests(ctx, args.paths)
        if notes:
            args = args.model_copy(update={"paths": paths})
            if not paths and not args.keyword:
                notes.append("no test file was left to run, so the whole suite ran")
        command = build_command(args, ctx)
        if command is None:
            message = "no test suite found (no pytest files or config); set test_command in .agent.toml"
            return ToolResult(output=message, ok=False, data={"no_tests": True, "ok": False})
        result = ctx.sandbox_for(self.name).run(command, ctx.root, ctx.command_timeout, ctx.command_env())
        data = parse_pytest(result.output)
        data.update(exit_code=result.exit_code, command=command, timed_out=result.timed_out)
        data["limits_hit"] = result.limits_hit
        whole_suite = not args.paths and not args.keyword
        data["no_tests"] = whole_suite and result.exit_code == NO_TESTS_COLLECTED
        data["whole_suite"] = whole_suite
        if data["counts_known"]:
            data["ok"] = result.ok and data["passed"] >= 1
        else:
            data["ok"] = result.ok and bool(ctx.test_command)
        output = f"{verdict(data, ctx.command_timeout)}\n\n{cap_text(result.output, ctx.output_limit)}"
        if notes:
            output = "\n".join(f"note: {note}" for note in notes) + "\n" + output
        return ToolResult(output=output, ok=data["ok"], data=data)


TOOL = RunTests()
