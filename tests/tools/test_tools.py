"""Every tool on a real temporary git repository, called through the real toolbox."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent.messages import ToolCall
from agent.repo.files import repo_files
from sandbox.bubblewrap import BubblewrapSandbox
from tests.repos import git, make_repo, median_repo
from tools.base import ToolContext
from tools.registry import Toolbox, ToolOutcome, default_tools
from tools.run_tests import has_pytest_suite, parse_pytest


def sha(text: str) -> str:
    """The short file hash read_file shows: the first 8 hex digits of the SHA-256 of the bytes."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


CORE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(
        tmp_path / "repo",
        {
            "pkg/core.py": CORE,
            "pkg/__init__.py": "",
            "docs/notes.md": "add is defined in core\n",
            "old.py": "def add_old(): pass\n",
            ".gitignore": "build/\n*.log\n",
        },
    )
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("def add(): pass\n")
    (root / "debug.log").write_text("def add add add\n")
    (root / "blob.bin").write_bytes(b"\0\1def add\2")
    (root / "old.py").unlink()  # deleted but still in git's index
    (root / "untracked.txt").write_text("new, not ignored\n")
    return root


@pytest.fixture
def ctx(repo: Path) -> ToolContext:
    return ToolContext(root=repo, sandbox=BubblewrapSandbox(), command_timeout=60)


def call(ctx: ToolContext, name: str, **arguments: object) -> ToolOutcome:
    return Toolbox(default_tools()).call(ToolCall(id="t", name=name, arguments=arguments), ctx)


# ---- repo_files ---------------------------------------------------------------------------------


def test_repo_files_honours_gitignore_and_skips_deleted_files(repo: Path) -> None:
    files = repo_files(repo)
    assert "old.py" in git(repo, "ls-files")  # deleted from disk, still in the index
    assert {"pkg/core.py", "docs/notes.md", "untracked.txt", "blob.bin", ".gitignore"} <= set(files)
    assert not {"build/gen.py", "debug.log", "old.py"} & set(files)


def test_repo_files_outside_git_walks_the_tree(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("x")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "dep.js").write_text("y")
    assert repo_files(tmp_path) == ["a/x.py"]


# ---- read_file ----------------------------------------------------------------------------------


def test_read_file_numbers_lines_and_pages(ctx: ToolContext) -> None:
    out = call(ctx, "read_file", path="pkg/core.py", start_line=4, end_line=5)
    assert out.error is None and out.result.ok
    lines = out.result.output.splitlines()
    assert lines[0] == f"pkg/core.py (lines 4-5 of 6, hash {sha(CORE)})"
    assert lines[1:3] == ["4| ", "5| def sub(a, b):"]
    assert lines[3] == "[1 more lines: read_file with start_line=6]"
    assert out.result.data == {
        "path": "pkg/core.py",
        "start_line": 4,
        "end_line": 5,
        "total_lines": 6,
        "hash": sha(CORE),
    }


def test_read_file_caps_long_files_and_says_how_to_continue(ctx: ToolContext) -> None:
    (ctx.root / "long.py").write_text("".join(f"x{i} = {i}\n" for i in range(1, 451)))
    out = call(ctx, "read_file", path="long.py")
    assert out.result.data["end_line"] == 400
    assert "  1| x1 = 1" in out.result.output and "400| x400 = 400" in out.result.output
    assert out.result.output.endswith("[50 more lines: read_file with start_line=401]")
    rest = call(ctx, "read_file", path="long.py", start_line=401)
    assert rest.result.output.splitlines()[-1] == "450| x450 = 450"


def test_read_file_errors_say_what_to_do(ctx: ToolContext) -> None:
    missing = call(ctx, "read_file", path="core.py")
    assert missing.error == "tool_error" and "Did you mean: pkg/core.py" in missing.result.output
    directory = call(ctx, "read_file", path="pkg")
    assert directory.error == "tool_error" and "is a directory" in directory.result.output
    assert "pkg/core.py" in directory.result.output
    binary = call(ctx, "read_file", path="blob.bin")
    assert binary.error == "tool_error" and "binary" in binary.result.output
    beyond = call(ctx, "read_file", path="pkg/core.py", start_line=50)
    assert beyond.error == "tool_error" and "only 6 lines" in beyond.result.output
    empty = call(ctx, "read_file", path="pkg/__init__.py").result.output
    assert empty == f"pkg/__init__.py is empty (hash {sha('')})"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../x"])
def test_paths_outside_the_repository_are_refused(ctx: ToolContext, path: str) -> None:
    for name, extra in (("read_file", {}), ("create_file", {"content": "x"}), ("list_files", {})):
        out = call(ctx, name, path=path, **extra)
        assert out.error == "tool_error" and "outside the repository" in out.result.output
    assert not (ctx.root.parent / "x").exists() and not (ctx.root.parent / "outside.txt").exists()


def test_symlink_pointing_outside_is_refused_everywhere(ctx: ToolContext, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret value\n")
    os.symlink(secret, ctx.root / "link.txt")
    read = call(ctx, "read_file", path="link.txt")
    assert read.error == "tool_error" and "s3cret" not in read.result.output
    edit = call(ctx, "edit_file", path="link.txt", old_text="s3cret value", new_text="x")
    assert edit.error == "tool_error" and "outside the repository" in edit.result.output
    create = call(ctx, "create_file", path="link.txt", content="x", overwrite=True)
    assert create.error == "tool_error"
    assert secret.read_text() == "s3cret value\n"
    assert "link.txt" not in call(ctx, "list_files").result.output
    assert "no match" in call(ctx, "search", pattern="s3cret").result.output


def test_git_internals_are_not_writable(ctx: ToolContext) -> None:
    out = call(ctx, "create_file", path=".git/hooks/pre-commit", content="echo pwned")
    assert out.error == "tool_error" and ".git" in out.result.output
    assert not (ctx.root / ".git/hooks/pre-commit").exists()


# ---- list_files and search ----------------------------------------------------------------------


def test_list_files_honours_gitignore_and_filters(ctx: ToolContext) -> None:
    out = call(ctx, "list_files")
    files = out.result.output.splitlines()
    assert "pkg/core.py" in files and "docs/notes.md" in files and "untracked.txt" in files
    assert not any(f.startswith("build/") or f.endswith(".log") or f == "old.py" for f in files)
    assert call(ctx, "list_files", pattern="*.py").result.data["files"] == ["pkg/__init__.py", "pkg/core.py"]
    assert call(ctx, "list_files", path="docs").result.output == "docs/notes.md"
    missing = call(ctx, "list_files", path="pkgs")
    assert missing.error == "tool_error" and "Did you mean: pkg" in missing.result.output


def test_search_skips_ignored_deleted_and_binary_files(ctx: ToolContext) -> None:
    out = call(ctx, "search", pattern=r"def add")
    assert out.error is None and out.result.output.splitlines() == ["pkg/core.py:1: def add(a, b):"]
    assert out.result.data["count"] == 1
    assert (
        call(ctx, "search", pattern="add", glob="*.md").result.output
        == "docs/notes.md:1: add is defined in core"
    )
    assert call(ctx, "search", pattern="add", path="docs").result.data["count"] == 1
    assert call(ctx, "search", pattern="return", path="pkg/core.py").result.data["count"] == 2
    assert (
        call(ctx, "search", pattern="nothing_like_this").result.output == "no match for 'nothing_like_this'"
    )


def test_search_caps_results_with_a_count(ctx: ToolContext) -> None:
    (ctx.root / "many.txt").write_text("hit\n" * 120)
    out = call(ctx, "search", pattern="^hit$", max_results=5)
    lines = out.result.output.splitlines()
    assert lines[:5] == [f"many.txt:{n}: hit" for n in range(1, 6)]
    assert lines[5].startswith("[115 more matches not shown")
    assert out.result.data == {"count": 120, "shown": 5}


def test_search_with_an_invalid_regex(ctx: ToolContext) -> None:
    literal = call(ctx, "search", pattern="add(a")
    assert literal.error is None and "searched for the plain text" in literal.result.output
    assert "pkg/core.py:1: def add(a, b):" in literal.result.output
    bad = call(ctx, "search", pattern="nothing[here")
    assert bad.error == "tool_error" and "invalid regular expression" in bad.result.output
    assert "backslash" in bad.result.output


# ---- edit_file and create_file ------------------------------------------------------------------


def test_edit_file_replaces_shows_the_region_and_records_the_edit(ctx: ToolContext) -> None:
    out = call(
        ctx, "edit_file", path="pkg/core.py", old_text="    return a - b\n", new_text="    return b - a\n"
    )
    assert out.error is None
    after = CORE.replace("a - b", "b - a")
    assert out.result.output.splitlines() == [
        f"edited pkg/core.py (6 lines, hash {sha(after)}):",
        "4| ",
        "5| def sub(a, b):",
        "6|     return b - a",
    ]
    assert (ctx.root / "pkg/core.py").read_text() == after
    assert [(e.tool, e.path, e.before, e.after) for e in ctx.edits] == [
        ("edit_file", "pkg/core.py", CORE, after)
    ]
    assert out.result.data == {"path": "pkg/core.py", "line": 6}


def test_edit_file_not_found_names_the_closest_match(ctx: ToolContext) -> None:
    out = call(
        ctx, "edit_file", path="pkg/core.py", old_text="def sub(a, b):\n    return a -- b", new_text="x"
    )
    assert out.error == "tool_error" and "old_text not found in pkg/core.py" in out.result.output
    assert "closest (lines 5-6" in out.result.output
    assert "5| def sub(a, b):\n6|     return a - b" in out.result.output
    assert (ctx.root / "pkg/core.py").read_text() == CORE and list(ctx.edits) == []


def test_edit_file_ambiguous_match_lists_the_lines(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="pkg/core.py", old_text="(a, b):", new_text="(x, y):")
    assert out.error == "tool_error"
    assert "occurs 2 times in pkg/core.py (lines 1, 5)" in out.result.output
    assert (ctx.root / "pkg/core.py").read_text() == CORE


def test_an_ambiguous_edit_shows_each_place_with_the_line_that_tells_them_apart(ctx: ToolContext) -> None:
    """The 1.5B model sent `if qty <= 0:` (in add and in remove) four times over: each place is
    shown with the line above it, which is what it needs to copy to make old_text unique."""
    source = (
        "class Stock:\n"
        "    def add(self, qty):\n"
        "        if qty <= 0:\n"
        "            raise ValueError(qty)\n"
        "\n"
        "    def remove(self, qty):\n"
        "        if qty <= 0:\n"
        "            raise ValueError(qty)\n"
    )
    (ctx.root / "pkg" / "stock.py").write_text(source)
    out = call(
        ctx,
        "edit_file",
        path="pkg/stock.py",
        old_text="        if qty <= 0:\n",
        new_text="        if qty < 1:\n",
    )
    assert out.error == "tool_error" and "occurs 2 times in pkg/stock.py (lines 3, 7)" in out.result.output
    assert "2|     def add(self, qty):\n3|         if qty <= 0:" in out.result.output
    assert "6|     def remove(self, qty):\n7|         if qty <= 0:" in out.result.output
    fixed = call(
        ctx,
        "edit_file",
        path="pkg/stock.py",
        old_text="    def remove(self, qty):\n        if qty <= 0:\n",
        new_text="    def remove(self, qty):\n        if qty < 1:\n",
    )
    assert fixed.error is None
    assert (ctx.root / "pkg" / "stock.py").read_text() == source.replace(
        "remove(self, qty):\n        if qty <= 0:", "remove(self, qty):\n        if qty < 1:"
    )


def test_edit_file_tolerates_copied_line_numbers_and_trailing_spaces(ctx: ToolContext) -> None:
    out = call(
        ctx, "edit_file", path="pkg/core.py", old_text="2|     return a + b", new_text="2|     return b + a"
    )
    assert out.error is None and "    return b + a\n" in (ctx.root / "pkg/core.py").read_text()
    out = call(ctx, "edit_file", path="pkg/core.py", old_text="def sub(a, b):   ", new_text="def sub(b, a):")
    assert out.error is None
    assert (ctx.root / "pkg/core.py").read_text().endswith("\n\ndef sub(b, a):\n    return a - b\n")
    out = call(
        ctx, "edit_file", path="pkg/core.py", old_text="def sub(b, a): \n    return a - b", new_text=""
    )
    assert (
        out.error is None
        and (ctx.root / "pkg/core.py").read_text() == "def add(a, b):\n    return b + a\n\n\n"
    )


def test_edit_file_keeps_windows_newlines(ctx: ToolContext) -> None:
    (ctx.root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    out = call(ctx, "edit_file", path="win.txt", old_text="two\n", new_text="2\n")
    assert out.error is None and (ctx.root / "win.txt").read_bytes() == b"one\r\n2\r\nthree\r\n"


def test_edit_file_refusals(ctx: ToolContext) -> None:
    same = call(ctx, "edit_file", path="pkg/core.py", old_text="a + b", new_text="a + b")
    assert same.error == "tool_error" and "the same" in same.result.output
    empty = call(ctx, "edit_file", path="pkg/core.py", old_text="  ", new_text="x")
    assert empty.error == "tool_error" and "create_file" in empty.result.output
    missing = call(ctx, "edit_file", path="pkg/cor.py", old_text="a", new_text="b")
    assert missing.error == "tool_error" and "pkg/core.py" in missing.result.output


def test_create_file_creates_dirs_and_refuses_to_clobber(ctx: ToolContext) -> None:
    out = call(ctx, "create_file", path="pkg/sub/new.py", content="X = 1")
    digest = sha("X = 1\n")
    assert out.error is None and out.result.output == f"created pkg/sub/new.py (1 lines, hash {digest})"
    assert (ctx.root / "pkg/sub/new.py").read_text() == "X = 1\n"
    again = call(ctx, "create_file", path="pkg/sub/new.py", content="X = 2")
    assert again.error == "tool_error" and "overwrite=true" in again.result.output
    assert call(ctx, "create_file", path="pkg/sub/new.py", content="X = 2\n", overwrite=True).error is None
    assert (ctx.root / "pkg/sub/new.py").read_text() == "X = 2\n"
    assert [(e.path, e.before, e.after) for e in ctx.edits] == [
        ("pkg/sub/new.py", None, "X = 1\n"),
        ("pkg/sub/new.py", "X = 1\n", "X = 2\n"),
    ]
    assert call(ctx, "create_file", path="pkg", content="x").error == "tool_error"


# ---- run_tests ----------------------------------------------------------------------------------


def test_run_tests_counts_passes_and_failures(tmp_path: Path) -> None:
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox(), command_timeout=60)
    out = call(ctx, "run_tests")
    data = out.result.data
    assert out.error is None and not out.result.ok
    assert (data["passed"], data["failed"], data["errors"], data["exit_code"]) == (1, 1, 0, 1)
    assert data["failing"] == ["test_stats.py::test_even"] and data["ok"] is False
    assert out.result.output.startswith(
        "TESTS FAILED: 1 passed, 1 failed, 0 errors\n  failing: test_stats.py::test_even"
    )
    assert "assert 3 == 2.5" in out.result.output
    assert "-p no:cacheprovider" in data["command"] and not (root / ".pytest_cache").exists()
    only = call(ctx, "run_tests", paths=["test_stats.py::test_odd"])
    assert only.result.ok and (only.result.data["passed"], only.result.data["failed"]) == (1, 0)
    assert only.result.output.startswith("TESTS PASSED: 1 passed, 0 failed")
    assert len([key for key in ctx.cache if key.startswith("run_tests.python")]) == 1


def test_run_tests_no_tests_ran_is_a_failure(tmp_path: Path) -> None:
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox(), command_timeout=60)
    out = call(ctx, "run_tests", keyword="no_such_test")
    assert not out.result.ok and out.result.data["exit_code"] == 5
    assert out.result.output.startswith("NO TESTS RAN (exit code 5)")
    assert out.result.data["passed"] == 0 and out.result.data["no_tests"] is False


def test_run_tests_given_a_source_file_runs_its_tests(tmp_path: Path) -> None:
    """The models ask for the file they changed; pytest collects nothing from it (exit code 5)."""
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox(), command_timeout=60)
    out = call(ctx, "run_tests", paths=["stats.py"])
    assert out.result.output.startswith(
        "note: stats.py is not a test file: ran the tests named after it, test_stats.py\nTESTS FAILED"
    )
    assert (out.result.data["passed"], out.result.data["failed"]) == (1, 1)
    assert "test_stats.py" in out.result.data["command"] and "stats.py " not in out.result.data["command"]
    readme = call(ctx, "run_tests", paths=["README.md"])
    assert readme.result.output.startswith(
        "note: README.md is not a test file and no test file is named after it: left out\n"
        "note: no test file was left to run, so the whole suite ran\n"
    )
    assert readme.result.data["whole_suite"] is True and readme.result.data["failed"] == 1


def test_run_tests_path_errors_and_missing_suite(tmp_path: Path, ctx: ToolContext) -> None:
    out = call(ctx, "run_tests")
    assert not out.result.ok and out.result.data == {"no_tests": True, "ok": False}
    assert "test_command" in out.result.output
    root = median_repo(tmp_path / "m")
    mctx = ToolContext(root=root, sandbox=BubblewrapSandbox(), command_timeout=60)
    missing = call(mctx, "run_tests", paths=["tests/test_stat.py"])
    assert missing.error == "tool_error" and "test_stats.py" in missing.result.output
    outside = call(mctx, "run_tests", paths=["../elsewhere.py"])
    assert outside.error == "tool_error" and "outside the repository" in outside.result.output


def test_run_tests_uses_the_configured_command(repo: Path) -> None:
    ctx = ToolContext(
        root=repo, sandbox=BubblewrapSandbox(), test_command="echo checking; test -f pkg/core.py"
    )
    good = call(ctx, "run_tests")
    assert good.result.ok and good.result.data["counts_known"] is False
    assert good.result.output.startswith("TESTS PASSED (exit code 0)") and "checking" in good.result.output
    bad = call(ctx, "run_tests", paths=["nothing/here"])
    assert bad.error == "tool_error"
    ctx.test_command = "false"
    assert call(ctx, "run_tests").result.output.startswith("TESTS FAILED (exit code 1)")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.pytest.ini_options]\n"}, True),
        ({"setup.cfg": "[tool:pytest]\n"}, True),
        ({"tox.ini": "[pytest]\n"}, True),
        ({"pkg/test_thing.py": ""}, True),
        ({"tests/helpers.py": ""}, True),
        ({"pyproject.toml": "[project]\nname='x'\n", "pkg/thing.py": ""}, False),
    ],
)
def test_pytest_suite_detection(tmp_path: Path, files: dict[str, str], expected: bool) -> None:
    assert has_pytest_suite(make_repo(tmp_path / "r", files)) is expected


def test_parse_pytest_summary_lines() -> None:
    output = (
        "F.E\n=== short test summary info ===\n"
        "FAILED tests/test_a.py::test_x[a - b] - AssertionError: boom\n"
        "ERROR tests/test_b.py::test_y - fixture 'z' not found\n"
        "1 failed, 3 passed, 2 skipped, 1 error in 0.12s\n"
    )
    data = parse_pytest(output)
    assert (data["passed"], data["failed"], data["errors"], data["skipped"]) == (3, 1, 1, 2)
    assert data["failing"] == ["tests/test_a.py::test_x[a - b]", "tests/test_b.py::test_y"]
    assert parse_pytest("no tests ran in 0.01s\n")["counts_known"] is True
    assert parse_pytest("make: *** [test] Error 2\n")["counts_known"] is False


# ---- shell and finish ---------------------------------------------------------------------------


def test_shell_runs_in_the_repository_with_exit_code(ctx: ToolContext) -> None:
    out = call(ctx, "shell", command="pwd; echo $PYTHONPATH; exit 3")
    lines = out.result.output.splitlines()
    assert lines[0] == "[exit code 3]" and Path(lines[1]).resolve() == ctx.root.resolve()
    assert lines[2] == str(ctx.root)
    assert not out.result.ok and out.result.data["exit_code"] == 3
    assert call(ctx, "shell", command="true").result.output == "[exit code 0]\n(no output)"


def test_shell_output_is_capped_for_the_model(ctx: ToolContext) -> None:
    ctx.output_limit = 1000
    out = call(ctx, "shell", command="seq 1 5000")
    assert out.result.ok and "characters elided" in out.result.output
    assert out.result.output.splitlines()[1] == "1" and out.result.output.endswith("5000\n")
    assert len(out.result.output) < 1100


def test_shell_timeout_is_reported(ctx: ToolContext) -> None:
    out = call(ctx, "shell", command="echo waiting; sleep 30", timeout=0.5)
    assert out.result.output.startswith("[timed out after 0.5s: the command and its children were killed]")
    assert "waiting" in out.result.output and out.result.data["timed_out"] and not out.result.ok


def test_finish_carries_the_summary(ctx: ToolContext) -> None:
    out = call(ctx, "finish", summary="fixed the median of even lists")
    assert out.result.ok and out.result.data == {"summary": "fixed the median of even lists"}
    assert call(ctx, "finish", summary="  ").error == "tool_error"


def test_edit_file_reindents_a_uniformly_shifted_block(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"m.py": "def f(x):\n    if x:\n        return 1\n    return 0\n"})
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox())
    out = call(
        ctx,
        "edit_file",
        path="m.py",
        old_text="        if x:\n            return 1",  # the model's indentation is 4 spaces too deep
        new_text="        if x > 0:\n            return 1\n        if x < 0:\n            return -1",
    )
    assert out.error is None, out.result.output
    assert (root / "m.py").read_text() == (
        "def f(x):\n    if x > 0:\n        return 1\n    if x < 0:\n        return -1\n    return 0\n"
    )


def test_edit_file_refuses_a_shifted_block_with_a_different_structure(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"m.py": "def f(x):\n    if x:\n        return 1\n"})
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox())
    out = call(ctx, "edit_file", path="m.py", old_text="if x:\nreturn 1", new_text="if y:\nreturn 2")
    assert out.error == "tool_error" and "not found" in out.result.output
    assert (root / "m.py").read_text() == "def f(x):\n    if x:\n        return 1\n"


def test_edit_file_refuses_an_ambiguous_shifted_block(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"m.py": "def f():\n    return 1\n\n\ndef g():\n    return 1\n"})
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox())
    out = call(ctx, "edit_file", path="m.py", old_text="        return 1", new_text="        return 2")
    assert out.error == "tool_error"
    assert "return 2" not in (root / "m.py").read_text()


def test_run_tests_keeps_the_expression_of_a_whole_pytest_command(tmp_path: Path) -> None:
    from tools.run_tests import keyword_expression

    assert keyword_expression("pytest -k 'test_even'") == "test_even"
    assert keyword_expression("python -m pytest tests -k 'even and not odd'") == "even and not odd"
    assert keyword_expression("pytest") is None and keyword_expression("  ") is None
    assert keyword_expression("even and not odd") == "even and not odd"
    root = median_repo(tmp_path / "m")
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox(), command_timeout=60)
    out = call(ctx, "run_tests", paths=["test_stats.py"], keyword="pytest -k 'test_odd'")
    assert out.result.ok and (out.result.data["passed"], out.result.data["failed"]) == (1, 0)
