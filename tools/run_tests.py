"""run_tests: run the project's tests (pytest detected, or the configured command) and count results."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import Field

from tools.base import ToolArgs, ToolContext, ToolError, ToolResult

PYTEST_MARKERS = ("pytest.ini", "conftest.py", "tox.ini", "setup.cfg", "pyproject.toml")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
_NODE = re.compile(r"^(FAILED|ERROR) (\S+)")


class Args(ToolArgs):
    paths: list[str] = Field(default_factory=list, description="test files or node ids; empty = all tests")
    keyword: str | None = Field(None, description="only tests whose name matches this -k expression")


def has_pytest_suite(root: Path) -> bool:
    if any((root / marker).is_file() for marker in PYTEST_MARKERS[:3]):
        return True
    if (root / "tests").is_dir() or (root / "test").is_dir():
        return True
    return any(root.glob("test_*.py")) or any(root.glob("*_test.py"))


def test_python(ctx: ToolContext) -> str:
    """A python on PATH that can import pytest (the project's environment), else our own."""
    if "python" not in ctx.cache:
        chosen = sys.executable
        for name in ("python3", "python"):
            found = shutil.which(name)
            if found and subprocess.run([found, "-c", "import pytest"], capture_output=True).returncode == 0:
                chosen = found
                break
        ctx.cache["python"] = chosen
    return str(ctx.cache["python"])


def parse_pytest(output: str) -> dict[str, object]:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    summary = [line for line in output.splitlines() if _COUNT.search(line) and " in " in line]
    for number, kind in _COUNT.findall(summary[-1] if summary else ""):
        key = "errors" if kind.startswith("error") else kind
        if key in counts:
            counts[key] = int(number)
    failing = [m.group(2) for line in output.splitlines() if (m := _NODE.match(line))]
    return {**counts, "failing": failing}


class RunTests:
    name = "run_tests"
    description = "Run the tests (all, or the given files / node ids) and report passes and failures."
    args_model = Args

    def command(self, args: Args, ctx: ToolContext) -> str:
        selection = [shlex.quote(p) for p in args.paths]
        if args.keyword:
            selection += ["-k", shlex.quote(args.keyword)]
        if ctx.test_command:
            return " ".join([ctx.test_command, *selection])
        if not has_pytest_suite(ctx.root):
            raise ToolError("no test suite detected (no pytest files); set test_command in .agent.toml")
        python = shlex.quote(test_python(ctx))
        return " ".join(
            [python, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider", "-rfE", *selection]
        )

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        try:
            command = self.command(args, ctx)
        except ToolError as exc:
            return ToolResult(output=str(exc), ok=False, data={"no_tests": True, "ok": False})
        result = ctx.sandbox.run(command, ctx.root, ctx.command_timeout, env=ctx.command_env())
        data = {
            **parse_pytest(result.output),
            "exit_code": result.exit_code,
            "command": command,
            "timed_out": result.timed_out,
        }
        ran = int(str(data["passed"])) + int(str(data["failed"])) + int(str(data["errors"]))
        whole_suite = not args.paths and not args.keyword
        data["no_tests"] = result.exit_code == 5 and whole_suite
        data["ok"] = result.ok and ran > 0
        verdict = self._verdict(data, result.timed_out, ctx.command_timeout)
        return ToolResult(output=f"{verdict}\n{result.output}", ok=bool(data["ok"]), data=data)

    @staticmethod
    def _verdict(data: dict[str, object], timed_out: bool, timeout: float) -> str:
        if timed_out:
            return f"TESTS TIMED OUT after {timeout:.0f}s"
        if data["exit_code"] == 5:
            return "NO TESTS RAN (exit code 5): check the paths or the -k expression"
        head = "TESTS PASSED" if data["ok"] else "TESTS FAILED"
        return f"{head}: {data['passed']} passed, {data['failed']} failed, {data['errors']} errors"


TOOL = RunTests()
