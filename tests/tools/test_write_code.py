"""write_code on a real git repository: definitions go where their names are defined."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.messages import ToolCall
from sandbox.bubblewrap import BubblewrapSandbox
from tests.repos import make_repo
from tools import write_code
from tools.base import ToolContext
from tools.registry import Toolbox, ToolOutcome, available_tools

CENTRAL = '''def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def median(xs: list[float]) -> float:
    """Middle value."""
    s = sorted(xs)
    return s[len(s) // 2]
'''
SPREAD = "def spread(xs):\n    return max(xs) - min(xs)\n"
TESTS = "from stats.central import median\n\n\ndef median_of(xs):\n    return median(xs)\n"
FIXED = """def median(xs: list[float]) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
"""


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    root = make_repo(
        tmp_path / "repo",
        {
            "stats/__init__.py": "",
            "stats/central.py": CENTRAL,
            "stats/spread.py": SPREAD,
            "tests/test_central.py": TESTS,
        },
    )
    return ToolContext(root=root, sandbox=BubblewrapSandbox(), protect_tests=True)


def call(ctx: ToolContext, **arguments: object) -> ToolOutcome:
    return Toolbox([write_code.TOOL]).call(ToolCall(id="w", name="write_code", arguments=arguments), ctx)


def test_a_definition_goes_to_the_file_that_defines_its_name(ctx: ToolContext) -> None:
    outcome = call(ctx, code=FIXED)
    assert outcome.error is None, outcome.result.output
    text = (ctx.root / "stats/central.py").read_text()
    assert text.startswith("def mean(") and "(s[mid - 1] + s[mid]) / 2" in text and '"""Middle' not in text
    assert outcome.result.output.startswith("replaced median\nedited stats/central.py")
    assert outcome.result.data["path"] == "stats/central.py" and outcome.result.data["replaced"] == ["median"]
    (record,) = list(ctx.edits)
    assert record.tool == "write_code" and record.before == CENTRAL and record.after == text


def test_a_wrong_path_is_refused_and_a_right_one_is_used(ctx: ToolContext) -> None:
    outcome = call(ctx, code=FIXED, path="stats/spread.py")
    assert outcome.error == "tool_error" and "could be placed in stats/spread.py" in outcome.result.output
    assert call(ctx, code=FIXED, path="stats/central.py").error is None


def test_code_as_the_file_has_it_changes_nothing(ctx: ToolContext) -> None:
    outcome = call(ctx, code="def spread(xs):\n    return max(xs) - min(xs)\n")
    assert outcome.error == "tool_error" and outcome.result.data.get("unchanged")
    assert "nothing changed" in outcome.result.output and not list(ctx.edits)


def test_the_repositorys_tests_are_not_changed(ctx: ToolContext) -> None:
    outcome = call(ctx, code="def median_of(xs):\n    return 0\n")
    assert outcome.error == "tool_error" and "one of the repository's tests" in outcome.result.output
    assert (ctx.root / "tests/test_central.py").read_text() == TESTS


def test_unknown_names_and_code_that_does_not_parse_say_what_to_do(ctx: ToolContext) -> None:
    unknown = call(ctx, code="def mode(xs):\n    return xs[0]\n")
    assert "none of mode is defined in the repository" in unknown.result.output
    broken = call(ctx, code="def median(xs:\n    return 1\n")
    assert "does not parse as Python (its line 1: " in broken.result.output
    nothing = call(ctx, code="print(1)\n")
    assert "defines nothing (or does not parse)" in nothing.result.output


def test_a_breaking_merge_is_refused_and_crlf_files_keep_their_endings(ctx: ToolContext) -> None:
    path = ctx.root / "stats/spread.py"
    path.write_bytes(SPREAD.replace("\n", "\r\n").encode())
    outcome = call(ctx, code="def spread(xs):\n    return max(xs) - min(xs) + 0\n")
    assert outcome.error is None, outcome.result.output
    assert path.read_bytes() == b"def spread(xs):\r\n    return max(xs) - min(xs) + 0\r\n"


def test_write_code_is_one_of_the_tools_a_person_can_call() -> None:
    assert "write_code" in {tool.name for tool in available_tools()}


def test_a_javascript_method_goes_into_its_class(tmp_path: Path) -> None:
    source = (
        "class Cache {\n  get(key) {\n    return this.map.get(key);\n  }\n}\n\nmodule.exports = { Cache };\n"
    )
    root = make_repo(tmp_path / "js", {"src/cache.js": source, "src/other.js": "function other() {}\n"})
    ctx = ToolContext(root=root, sandbox=BubblewrapSandbox())
    assert write_code.defined_names("class Cache {\n  get(key) {\n  }\n}\n") == ["Cache", "get"]
    outcome = call(ctx, code="class Cache {\n  get(key) {\n    return this.map.get(key) ?? null;\n  }\n}\n")
    assert outcome.error is None, outcome.result.output
    assert "return this.map.get(key) ?? null;" in (root / "src/cache.js").read_text()
