"""find_symbol through the toolbox, exactly as the model calls it, on a real git repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.context.issue import parse_issue
from agent.messages import ToolCall
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.repos import make_repo
from tools.base import ToolContext
from tools.registry import Toolbox, default_tools

PARSER = '''class Parser:
    """Turns tokens into a tree."""

    def parse(self, tokens):
        tree = self.parse_expression(tokens)
        return tree

    def parse_expression(self, tokens):
        return tokens[0]


def parse(text):
    return Parser().parse(text.split())
'''
CLI = """from parser import parse


def main(argv):
    print(parse(argv[1]))
"""


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    root = make_repo(
        tmp_path / "repo",
        {"parser.py": PARSER, "cli.py": CLI, "web/app.js": "function parse(x) { return x; }\n"},
    )
    return ToolContext(root=root, sandbox=SubprocessSandbox())


def call(ctx: ToolContext, **arguments: object) -> tuple[str, bool, str | None]:
    outcome = Toolbox(default_tools()).call(ToolCall(id="1", name="find_symbol", arguments=arguments), ctx)
    return outcome.result.output, outcome.result.ok, outcome.error


def test_a_qualified_name_finds_the_method(ctx: ToolContext) -> None:
    output, ok, error = call(ctx, name="Parser.parse")
    assert ok and error is None
    assert output.startswith("parser.py:4-6 method Parser.parse\n    def parse(self, tokens):")
    assert "parse_expression(tokens)" in output and "web/app.js" not in output


def test_a_bare_name_lists_every_definition_top_level_first(ctx: ToolContext) -> None:
    output, _, _ = call(ctx, name="parse")
    titles = [line for line in output.splitlines() if line and not line.startswith(" ")]
    assert titles == [
        "parser.py:12-13 function parse",
        "web/app.js:1-1 function parse",
        "parser.py:4-6 method Parser.parse",
    ]


def test_references_and_a_miss_with_suggestions(ctx: ToolContext) -> None:
    output, ok, _ = call(ctx, name="parse", references=True)
    assert ok and "Used at:" in output and "cli.py:5: print(parse(argv[1]))" in output
    output, ok, error = call(ctx, name="parse_expresion")
    assert not ok and error == "tool_error"
    assert "no definition of 'parse_expresion'" in output and "parse_expression" in output


def test_edits_during_a_run_are_seen(ctx: ToolContext) -> None:
    (ctx.root / "parser.py").write_text(PARSER + "\n\ndef tokenize(text):\n    return text.split()\n")
    output, ok, _ = call(ctx, name="tokenize")
    assert ok and output.startswith("parser.py:16-17 function tokenize")


def test_issue_analysis_finds_names_paths_frames_and_messages() -> None:
    query = parse_issue(
        "Calling `click.Path(dir_okay=False).convert(path, None, None)` in src/click/types.py fails:\n"
        'File "/venv/lib/site-packages/click/types.py", line 880, in convert\n'
        "click.exceptions.BadParameter: 'my dir' is a directory. The out-of-order table breaks too.\n"
        "ValueError: cannot convert the path"
    )
    assert {"Path", "convert", "dir_okay", "BadParameter", "ValueError"} <= set(query.identifiers)
    assert ("click", "Path") in query.dotted and ("Path", "convert") in query.dotted
    assert "src/click/types.py" in query.paths and query.frames[0].function == "convert"
    assert "cannot convert the path" in query.literals and "my dir" in query.literals
    assert "outofordertable" in query.phrases
