"""The oracle's edits, replayed through the real edit tools, turn each base file into its gold file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engines.oracle import edit_calls, oracle_turns
from agent.messages import ToolCall
from sandbox.subprocess_sandbox import SubprocessSandbox
from tools.base import ToolContext
from tools.registry import Toolbox, default_tools

CASES = {
    "one changed line": ("a\nb\nc\n", "a\nB\nc\n"),
    "repeated lines need context": ("x = 1\ny = 2\nx = 1\ny = 2\nz\n", "x = 1\ny = 2\nx = 1\ny = 3\nz\n"),
    "insertion at the top": ("first\nsecond\n", "zero\nfirst\nsecond\n"),
    "insertion at the end": ("first\nsecond\n", "first\nsecond\nthird\n"),
    "deletion": ("keep\ndrop\nkeep too\n", "keep\nkeep too\n"),
    "blank lines only": ("def f():\n\n\n    return 1\n", "def f():\n    return 1\n"),
    "no final newline": ("a\nb", "a\nc"),
    "substring of another line": ("    max_x = 1\n    x = 1\n", "    max_x = 1\n    x = 2\n"),
    "everything blank": ("\n\n", "text\n"),
}
FORTY = "".join(f"line {i}\n" for i in range(40))
EDITED = FORTY.replace("line 3\n", "L3\n").replace("line 30\n", "").replace("line 39\n", "x\n")
CASES["several hunks"] = (FORTY, EDITED)


def apply_through_tools(tmp_path: Path, before: str, after: str) -> str:
    target = tmp_path / "f.py"
    target.write_bytes(before.encode())
    ctx = ToolContext(root=tmp_path, sandbox=SubprocessSandbox())
    toolbox = Toolbox(default_tools())
    for n, call in enumerate(edit_calls("f.py", before, after)):
        arguments = call.arguments if isinstance(call.arguments, dict) else {}
        outcome = toolbox.call(ToolCall(id=f"c{n}", name=call.name, arguments=arguments), ctx)
        assert outcome.error is None, outcome.result.output
    return target.read_bytes().decode()


@pytest.mark.parametrize("case", sorted(CASES))
def test_edits_reproduce_the_gold_file(tmp_path: Path, case: str) -> None:
    before, after = CASES[case]
    assert apply_through_tools(tmp_path, before, after) == after


def test_turns_plan_then_edit_then_test_then_finish() -> None:
    turns = oracle_turns({"a.py": ("x\n", "y\n"), "new.py": (None, "print(1)\n")})
    assert turns[0].text.startswith("1. Apply the reference change to a.py, new.py")
    assert not turns[0].tool_calls
    names = [turn.tool_calls[0].name for turn in turns[1:]]
    assert names == ["edit_file", "create_file", "run_tests", "finish"]
