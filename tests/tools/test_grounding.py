"""Grounded arguments: the call grammar, built for a real repository, under llguidance with the
real Qwen2.5 vocabulary, lets through exactly the calls that name existing files and lines."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.engines.constrain import TokenMasker
from agent.formats import get_format
from agent.messages import ToolCall, ToolSpec
from sandbox.subprocess_sandbox import SubprocessSandbox
from tools.base import ToolContext
from tools.grounding import Ground, GroundingLimits, RepoView, grounded_schema, lines_allowed
from tools.registry import Toolbox, default_tools, tools_for

PARSE = '''"""Parsing helpers."""


def parse_bool(text: str) -> bool:
    return bool(text)


def parse_int(text: str) -> int:
    return int(text.strip())
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "parse.py").write_text(PARSE)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_parse.py").write_text("from pkg.parse import parse_bool\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    return tmp_path


@pytest.fixture
def ctx(repo: Path) -> ToolContext:
    return ToolContext(root=repo, sandbox=SubprocessSandbox())


@pytest.fixture
def toolbox() -> Toolbox:
    return Toolbox(tools_for("qwen2.5", default_tools()))


def spec(specs: list[ToolSpec], name: str) -> ToolSpec:
    return next(s for s in specs if s.name == name)


def test_edit_file_is_narrowed_per_file_and_nothing_the_model_sees_changes(
    toolbox: Toolbox, ctx: ToolContext
) -> None:
    plain, grounded = toolbox.specs(), toolbox.grounded_specs(ctx)
    edit = spec(grounded, "edit_file")
    assert edit.grammar is not None
    paths = [alt["properties"]["path"]["const"] for alt in edit.grammar["anyOf"]]
    assert paths == ["pkg/__init__.py", "pkg/parse.py", "tests/test_parse.py"]
    by_path = {alt["properties"]["path"]["const"]: alt for alt in edit.grammar["anyOf"]}
    assert by_path["pkg/parse.py"]["properties"]["old_text"]["x-lines-of"] == PARSE
    assert spec(grounded, "read_file").grammar["properties"]["path"]["enum"] == paths  # type: ignore[index]
    directories = spec(grounded, "list_files").grammar["properties"]["path"]["enum"]  # type: ignore[index]
    assert directories == [".", "pkg", "tests"]
    assert spec(grounded, "shell").grammar is None  # nothing to ground
    # the prompt is rendered from what the model sees: identical, and the texts are never saved
    assert [s.openai() for s in grounded] == [s.openai() for s in plain]
    assert "grammar" not in edit.model_dump() and "x-lines-of" not in edit.model_dump_json()


def test_the_grammar_follows_the_files_as_they_change(toolbox: Toolbox, ctx: ToolContext) -> None:
    (ctx.root / "pkg" / "parse.py").write_text(PARSE.replace("bool(text)", "text.lower() == 'true'"))
    (ctx.root / "pkg" / "new.py").write_text("X = 1\n")  # untracked, not ignored: a repository file
    edit = spec(toolbox.grounded_specs(ctx), "edit_file")
    assert edit.grammar is not None
    by_path = {alt["properties"]["path"]["const"]: alt for alt in edit.grammar["anyOf"]}
    assert "text.lower() == 'true'" in by_path["pkg/parse.py"]["properties"]["old_text"]["x-lines-of"]
    assert by_path["pkg/new.py"]["properties"]["old_text"]["x-lines-of"] == "X = 1\n"


def test_limits_keep_paths_grounded_and_let_texts_go(repo: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"path": {"type": "string"}, "old_text": {"type": "string"}},
        "required": ["path", "old_text"],
    }
    grounds = {"path": Ground.FILE, "old_text": Ground.LINES}
    small = RepoView(repo, GroundingLimits(max_total_chars=len(PARSE)))
    narrowed = grounded_schema(schema, grounds, small, first=["pkg/parse.py"])
    assert narrowed is not None
    alternatives = narrowed["anyOf"]
    assert [a["properties"]["path"].get("const") for a in alternatives[:-1]] == [
        "pkg/__init__.py",  # empty: it fits too
        "pkg/parse.py",
    ]
    rest = alternatives[-1]["properties"]
    assert rest["path"]["enum"] == ["tests/test_parse.py"]
    assert rest["old_text"] == {"type": "string"}  # not grounded: any text
    too_many = RepoView(repo, GroundingLimits(max_paths=2))
    assert grounded_schema(schema, grounds, too_many) is None  # paths are free strings again
    empty = repo / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=empty, check=True)
    assert grounded_schema(schema, grounds, RepoView(empty)) is None  # no file to name yet
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    assert RepoView(repo).text("blob.bin") is None


def follows(masker: TokenMasker, lark: str, text: str) -> int:
    """How many tokens of `text` the grammar lets through, one at a time as in sampling."""
    processor = masker.processor(lark)
    tokens = masker.tokenizer.tokenize_str(text)
    prompt = [1, 2, 3]
    for at, token in enumerate(tokens):
        scores = processor(prompt + tokens[:at], np.zeros(masker.n_vocab, dtype=np.float32))
        if scores[token] == -np.inf:
            return at
    return len(tokens)


def call_body(name: str, arguments: dict[str, Any]) -> str:
    fmt = get_format("hermes")
    body = fmt.render_call(ToolCall(id="c", name=name, arguments=arguments))[len(fmt.opener) :]
    return body[: -len("</tool_call>")]  # the closing tag is an added token: test_constrain's case


@pytest.mark.model
def test_the_model_can_only_name_existing_files_and_lines(
    toolbox: Toolbox, ctx: ToolContext, masker: TokenMasker
) -> None:
    lark = get_format("hermes").body_grammar(toolbox.grounded_specs(ctx)).lark
    path = "pkg/parse.py"
    allowed = [
        call_body("edit_file", {"path": path, "old_text": "    return bool(text)", "new_text": "x"}),
        call_body("edit_file", {"path": path, "old_text": "return bool(text)\n", "new_text": "x"}),
        call_body(
            "edit_file",
            {
                "path": path,
                "old_text": "def parse_int(text: str) -> int:\n    return int(text.strip())",
                "new_text": "",
            },
        ),
        call_body("read_file", {"path": "tests/test_parse.py"}),
        call_body("list_files", {"path": "pkg"}),
    ]
    for body in allowed:
        assert follows(masker, lark, body) == len(masker.tokenizer.tokenize_str(body)), body
    refused = {
        "text not in the file": call_body(
            "edit_file", {"path": path, "old_text": "return bool(value)", "new_text": "x"}
        ),
        "half a line": call_body("edit_file", {"path": path, "old_text": "bool(text)", "new_text": "x"}),
        "another file's lines": call_body(
            "edit_file", {"path": "pkg/__init__.py", "old_text": "def parse_int", "new_text": "x"}
        ),
        "no such file": call_body("read_file", {"path": "pkg/parser.py"}),
        "the description": call_body("read_file", {"path": "file path relative to the repository root"}),
        "a file as a directory": call_body("list_files", {"path": "pkg/parse.py"}),
    }
    for why, body in refused.items():
        assert follows(masker, lark, body) < len(masker.tokenizer.tokenize_str(body)), why


SETTINGS = """class Settings:
    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Settings":
        s = cls()
        if "DEBUG" in env:
            s.debug = parse_bool(env["DEBUG"])
        if r"\\d" in env.get("PORT", "\\n"):
            s.port = parse_int(env["PORT"], base=10)  # naïve
        return s
"""


@pytest.mark.model
def test_the_models_own_tokens_of_any_line_get_through(
    toolbox: Toolbox, ctx: ToolContext, masker: TokenMasker
) -> None:
    """Inside a grounded piece llguidance forces the rest of it, and a forced run may only be
    tokenized as llguidance tokenizes it alone. With whole lines as pieces the model's own `\\"]`
    in `env[\\"DEBUG\\"])` was refused (2 of 247 lines of the minibugs, 9 of 429 quoted lines of
    agent/), and the 1.5B model, pushed through other tokens, wrote garbled code after it."""
    (ctx.root / "pkg" / "settings.py").write_text(SETTINGS)
    lark = get_format("hermes").body_grammar(toolbox.grounded_specs(ctx)).lark
    lines = SETTINGS.splitlines(keepends=True)
    pieces = [*lines, *(a + b for a, b in itertools.pairwise(lines))]
    pieces += [line.lstrip() for line in lines]  # the first line may start without its indentation
    for old in pieces:
        body = call_body("edit_file", {"path": "pkg/settings.py", "old_text": old, "new_text": "x"})
        assert follows(masker, lark, body) == len(masker.tokenizer.tokenize_str(body)), old


def test_the_gbnf_fallback_takes_any_old_text(toolbox: Toolbox, ctx: ToolContext) -> None:
    """llama.cpp's own grammar has no substring rule: the grounded paths stay, the text is free."""
    from llama_cpp import LlamaGrammar

    gbnf = get_format("hermes").body_grammar(toolbox.grounded_specs(ctx)).gbnf
    assert '"\\"pkg/parse.py\\""' in gbnf
    LlamaGrammar.from_string(gbnf, verbose=False)  # compiles
    assert json.dumps("x-lines-of") not in gbnf


def test_existing_tests_are_protected_in_the_grammar_and_in_the_tools(toolbox: Toolbox, repo: Path) -> None:
    ctx = ToolContext(root=repo, sandbox=SubprocessSandbox(), protect_tests=True)
    specs = toolbox.grounded_specs(ctx)
    edit = spec(specs, "edit_file").grammar
    assert edit is not None
    assert [alt["properties"]["path"]["const"] for alt in edit["anyOf"]] == [
        "pkg/__init__.py",
        "pkg/parse.py",
    ]
    assert "tests/test_parse.py" in spec(specs, "read_file").grammar["properties"]["path"]["enum"]  # type: ignore[index]
    change = {
        "path": "tests/test_parse.py",
        "old_text": "from pkg.parse import parse_bool",
        "new_text": "x = 1",
    }
    refused = toolbox.call(ToolCall(id="1", name="edit_file", arguments=change), ctx)
    assert refused.error == "tool_error" and "one of the repository's tests" in refused.result.output
    assert (repo / "tests" / "test_parse.py").read_text() == "from pkg.parse import parse_bool\n"
    overwrite = {"path": "tests/test_parse.py", "content": "x = 1\n", "overwrite": True}
    assert toolbox.call(ToolCall(id="2", name="create_file", arguments=overwrite), ctx).error == "tool_error"
    new_test = {"path": "tests/test_more.py", "content": "def test_x():\n    assert True\n"}
    assert toolbox.call(ToolCall(id="3", name="create_file", arguments=new_test), ctx).error is None
    free = ToolContext(root=repo, sandbox=SubprocessSandbox())  # --edit-tests
    assert toolbox.call(ToolCall(id="4", name="edit_file", arguments=change), free).error is None
    assert (repo / "tests" / "test_parse.py").read_text() == "x = 1\n"


def test_barred_lines_split_a_files_text_into_the_blocks_between_them() -> None:
    text = "a = 1\nb = 2\n\nc = 3\nd = 4\n"
    assert lines_allowed(text, None) == text and lines_allowed(text, set()) == text
    assert lines_allowed(text, {2}) == ["a = 1\n", "\nc = 3\nd = 4\n"]
    assert lines_allowed(text, {1, 4}) == ["b = 2\n\n", "d = 4\n"]  # a block of blank lines is dropped
    assert lines_allowed(text, {1, 2, 4, 5}) == text  # nothing with code would be left: no bar


@pytest.mark.model
def test_old_text_cannot_hold_a_barred_line(toolbox: Toolbox, ctx: ToolContext, masker: TokenMasker) -> None:
    """A line where edit after edit changed nothing is closed to edits (agent/loop/sampling.py): the
    model has to start its old text elsewhere, in the same file or another."""
    path = "pkg/parse.py"
    barred = {path: {5}}  # `    return bool(text)`
    edit = spec(toolbox.grounded_specs(ctx, barred), "edit_file")
    assert edit.grammar is not None
    by_path = {alt["properties"]["path"]["const"]: alt for alt in edit.grammar["anyOf"]}
    blocks = by_path[path]["properties"]["old_text"]["x-lines-of"]
    assert isinstance(blocks, list) and len(blocks) == 2
    lark = get_format("hermes").body_grammar([edit]).lark

    def body(old: str) -> str:
        return call_body("edit_file", {"path": path, "old_text": old, "new_text": "x"})

    for old in (
        "def parse_bool(text: str) -> bool:",
        "def parse_int(text: str) -> int:\n",
        "return int(text.strip())",
    ):
        assert follows(masker, lark, body(old)) == len(masker.tokenizer.tokenize_str(body(old))), old
    for old in (
        "    return bool(text)",
        "return bool(text)",
        "def parse_bool(text: str) -> bool:\n    return bool(text)",
    ):
        assert follows(masker, lark, body(old)) < len(masker.tokenizer.tokenize_str(body(old))), old
