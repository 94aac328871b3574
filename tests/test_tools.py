"""Every tool on a real temporary git repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.messages import ToolCall
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.repos import make_repo, median_repo
from tools.base import ToolContext
from tools.registry import Outcome, Toolbox, default_tools


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(
        tmp_path / "repo",
        {
            "pkg/core.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
            "pkg/__init__.py": "",
            "docs/notes.md": "add is defined in core\n",
            ".gitignore": "build/\n*.log\n",
        },
    )
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("def add(): pass\n")
    (root / "debug.log").write_text("add add add\n")
    (root / "blob.bin").write_bytes(b"\0\1add\2")
    return root


@pytest.fixture
def ctx(repo: Path) -> ToolContext:
    return ToolContext(root=repo, sandbox=SubprocessSandbox(), command_timeout=60)


def call(ctx: ToolContext, name: str, **arguments: object) -> Outcome:
    return Toolbox(default_tools()).call(ToolCall(id="t", name=name, arguments=arguments), ctx)


def test_read_file_numbers_lines_and_pages(ctx: ToolContext) -> None:
    out = call(ctx, "read_file", path="pkg/core.py", start_line=4, end_line=5)
    assert out.error is None
    assert out.result.output.splitlines()[1:3] == ["4| ", "5| def sub(a, b):"]
    assert "[1 more lines" in out.result.output


def test_read_file_missing_suggests_close_names(ctx: ToolContext) -> None:
    out = call(ctx, "read_file", path="pkg/cor.py")
    assert out.error == "tool_error" and "pkg/core.py" in out.result.output


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../x"])
def test_paths_outside_the_repository_are_refused(ctx: ToolContext, path: str) -> None:
    out = call(ctx, "read_file", path=path)
    assert out.error == "tool_error" and "outside the repository" in out.result.output


def test_symlink_pointing_outside_is_refused(ctx: ToolContext, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    os.symlink(secret, ctx.root / "link.txt")
    out = call(ctx, "read_file", path="link.txt")
    assert out.error == "tool_error" and "s3cret" not in out.result.output
    assert call(ctx, "edit_file", path="link.txt", old_text="s3cret", new_text="x").error == "tool_error"
    assert secret.read_text() == "s3cret"


def test_list_files_honours_gitignore(ctx: ToolContext) -> None:
    out = call(ctx, "list_files")
    files = out.result.output.splitlines()
    assert "pkg/core.py" in files and "docs/notes.md" in files
    assert not any(f.startswith("build/") or f.endswith(".log") for f in files)
    assert call(ctx, "list_files", pattern="*.py").result.data["count"] == 2


def test_search_skips_ignored_and_binary_files(ctx: ToolContext) -> None:
    out = call(ctx, "search", pattern=r"def add")
    assert out.result.output.splitlines() == ["pkg/core.py:1: def add(a, b):"]
    assert call(ctx, "search", pattern="add", glob="*.md").result.data["count"] == 1
    assert "no match" in call(ctx, "search", pattern="nothing_like_this").result.output


def test_search_with_an_invalid_regex_falls_back_to_literal(ctx: ToolContext) -> None:
    out = call(ctx, "search", pattern="add(a")
    assert out.error is None and "pkg/core.py:1:" in out.result.output


def test_edit_file_replaces_and_shows_the_region(ctx: ToolContext) -> None:
    old, new = "    return a - b\n", "    return b - a\n"
    out = call(ctx, "edit_file", path="pkg/core.py", old_text=old, new_text=new)
    assert out.error is None
    assert "6|     return b - a" in out.result.output
    assert (ctx.root / "pkg/core.py").read_text().endswith("return b - a\n")
    assert ctx.edits[-1]["path"] == "pkg/core.py"


def test_edit_file_not_found_names_the_closest_match(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="pkg/core.py", old_text="    return a -- b", new_text="x")
    assert out.error == "tool_error"
    assert "closest match (lines 6-6" in out.result.output and "return a - b" in out.result.output


def test_edit_file_ambiguous_match_is_refused(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="pkg/core.py", old_text="(a, b):", new_text="(x, y):")
    assert out.error == "tool_error"
    assert "occurs 2 times" in out.result.output and "lines 1, 5" in out.result.output
    assert "def add(a, b)" in (ctx.root / "pkg/core.py").read_text()


def test_edit_file_tolerates_copied_line_numbers_and_trailing_spaces(ctx: ToolContext) -> None:
    numbered_old, numbered_new = "2|     return a + b", "2|     return b + a"
    out = call(ctx, "edit_file", path="pkg/core.py", old_text=numbered_old, new_text=numbered_new)
    assert out.error is None and "return b + a" in (ctx.root / "pkg/core.py").read_text()
    spaced = "def sub(a, b):   \n"
    out = call(ctx, "edit_file", path="pkg/core.py", old_text=spaced, new_text="def sub(b, a):\n")
    assert out.error is None and "def sub(b, a):\n" in (ctx.root / "pkg/core.py").read_text()


def test_create_file_refuses_to_clobber(ctx: ToolContext) -> None:
    assert call(ctx, "create_file", path="pkg/new.py", content="X = 1").error is None
    assert (ctx.root / "pkg/new.py").read_text() == "X = 1\n"
    assert call(ctx, "create_file", path="pkg/new.py", content="X = 2").error == "tool_error"
    assert call(ctx, "create_file", path="pkg/new.py", content="X = 2", overwrite=True).error is None


def test_run_tests_counts_passes_and_failures(tmp_path: Path) -> None:
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=SubprocessSandbox(), command_timeout=60)
    out = call(ctx, "run_tests")
    data = out.result.data
    assert (data["passed"], data["failed"], data["ok"]) == (1, 1, False)
    assert data["failing"] == ["test_stats.py::test_even"]
    assert out.result.output.startswith("TESTS FAILED: 1 passed, 1 failed")
    only = call(ctx, "run_tests", paths=["test_stats.py::test_odd"])
    assert only.result.ok and only.result.data["passed"] == 1


def test_run_tests_reports_no_tests_ran(tmp_path: Path) -> None:
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=SubprocessSandbox(), command_timeout=60)
    out = call(ctx, "run_tests", keyword="no_such_test")
    assert not out.result.ok and "NO TESTS RAN" in out.result.output and out.result.data["exit_code"] == 5


def test_run_tests_without_a_suite_says_how_to_configure(ctx: ToolContext) -> None:
    out = call(ctx, "run_tests")
    assert not out.result.ok and out.result.data["no_tests"] and "test_command" in out.result.output


def test_shell_runs_in_the_repository_with_exit_code(ctx: ToolContext) -> None:
    out = call(ctx, "shell", command="pwd; exit 3")
    assert out.result.output.splitlines()[0] == "[exit code 3]"
    assert Path(out.result.output.splitlines()[1]).resolve() == ctx.root.resolve()
    assert not out.result.ok


def test_shell_timeout_is_reported(ctx: ToolContext) -> None:
    out = call(ctx, "shell", command="sleep 30", timeout=0.5)
    assert "timed out" in out.result.output and out.result.data["timed_out"]


def test_finish_carries_the_summary(ctx: ToolContext) -> None:
    assert call(ctx, "finish", summary="done").result.data == {"summary": "done"}
