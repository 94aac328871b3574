"""AGENTS.md discovery, precedence, the CLAUDE.md fallback, the test command forms and the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.run.instruction_prompt import build_block, instructions_manifest
from agent.run.instructions import discover, find_test_command
from tests.repos import make_repo

ROOT_RULES = "# Rules\n\nUse tabs in Makefiles.\nRun the tests with `python -m pytest -q`.\n"
API_RULES = "# api\n\nNever log request bodies.\n"
V2_RULES = "# api v2\n\nReturn JSON errors.\n"


def count(text: str) -> int:
    return len(text) // 4


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {
            "AGENTS.md": ROOT_RULES,
            "pkg/api/AGENTS.md": API_RULES,
            "pkg/api/v2/AGENTS.md": V2_RULES,
            "pkg/api/v2/handlers.py": "def handle():\n    return 1\n",
            "pkg/web/CLAUDE.md": "ignored: this repository has AGENTS.md files\n",
            "docs/AGENTS.md": "",  # empty files are skipped
            "build/AGENTS.md": "generated, ignored by git\n",
            ".gitignore": "build/\n",
            "app.py": "print('hi')\n",
        },
    )


def test_root_nested_and_user_files_are_found(monorepo: Path, tmp_path: Path) -> None:
    user = tmp_path / "config"
    user.mkdir()
    (user / "AGENTS.md").write_text("Answer in British English.\n")
    found = discover(monorepo, user)

    assert found.name == "AGENTS.md"
    assert [(f.kind, f.path, f.scope) for f in found.files] == [
        ("user", str(user / "AGENTS.md"), ""),
        ("root", "AGENTS.md", ""),
        ("nested", "pkg/api/AGENTS.md", "pkg/api"),
        ("nested", "pkg/api/v2/AGENTS.md", "pkg/api/v2"),
    ]
    assert [f.kind for f in found.always] == ["user", "root"]  # user first: the project overrides it


def test_nearest_file_wins_for_a_path(monorepo: Path) -> None:
    found = discover(monorepo, None)
    assert [f.path for f in found.chain("pkg/api/v2/handlers.py")] == [
        "pkg/api/AGENTS.md",
        "pkg/api/v2/AGENTS.md",
    ]
    nearest = found.nearest("pkg/api/v2/handlers.py")
    assert nearest is not None and nearest.path == "pkg/api/v2/AGENTS.md"
    nearest = found.nearest("pkg/api/routes.py")
    assert nearest is not None and nearest.path == "pkg/api/AGENTS.md"
    nearest = found.nearest("pkg/apix/x.py")  # a sibling with a common prefix is not "under" pkg/api
    assert nearest is not None and nearest.path == "AGENTS.md"
    assert found.chain("app.py") == []


def test_claude_md_is_the_fallback_when_there_is_no_agents_md(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"CLAUDE.md": "Tests: `make check`\n", "lib/CLAUDE.md": "lib rules\n", "lib/x.py": "x = 1\n"},
    )
    found = discover(repo, None)
    assert found.name == "CLAUDE.md"
    assert [(f.kind, f.path) for f in found.files] == [("root", "CLAUDE.md"), ("nested", "lib/CLAUDE.md")]
    assert found.test_command == "make check"
    block = build_block(found, 1000, count)
    assert "CLAUDE.md files" in block.text and "lib/CLAUDE.md: for files under lib/" in block.text


def test_no_instruction_files_gives_an_empty_block(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "a = 1\n"})
    block = build_block(discover(repo, tmp_path / "no-config"), 1000, count)
    assert block.text == "" and block.files == [] and block.notices == []


@pytest.mark.parametrize(
    ("markdown", "command"),
    [
        ("Run the tests with `pytest -q`.", "pytest -q"),
        ("- Test command: `tox -e py311`", "tox -e py311"),
        ("**Tests:** `make test`", "make test"),
        ("To run all the tests, use `npm test` from the root.", "npm test"),
        ("Running tests: `./run-tests.sh --fast`", "./run-tests.sh --fast"),
        (
            "## Testing\n\nFrom the root:\n\n```bash\n# fast\n$ python -m pytest tests/unit\n```\n",
            "python -m pytest tests/unit",
        ),
        ("## Build\n\n```sh\nmake\n```\n\n## Running the tests\n\n```\nnox -s tests\n```\n", "nox -s tests"),
        ("Do not edit `tests/fixtures`.\n\n```\npytest\n```\n", None),  # no form matches
        ("# Style\n\n```python\ndef test_x(): ...\n```\n", None),
    ],
)
def test_test_command_forms(markdown: str, command: str | None) -> None:
    assert find_test_command(markdown) == command


def test_the_test_command_comes_from_the_root_file_only(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"AGENTS.md": "Be brief.\n", "sub/AGENTS.md": "Run the tests with `pytest sub`.\n"},
    )
    assert discover(repo, None).test_command is None


def test_block_fits_and_lists_nested_files_with_their_scope(monorepo: Path) -> None:
    block = build_block(discover(monorepo, None), 2000, count)
    assert "--- AGENTS.md (the whole repository)" in block.text
    assert "Use tabs in Makefiles." in block.text
    assert "- pkg/api/AGENTS.md: for files under pkg/api/" in block.text
    assert "Never log request bodies." not in block.text  # nested text comes when the model works there
    assert block.notices == []
    assert block.tokens == count(block.text) <= block.budget
    assert [(f.path, f.included) for f in block.files] == [
        ("AGENTS.md", "full"),
        ("pkg/api/AGENTS.md", "on_demand"),
        ("pkg/api/v2/AGENTS.md", "on_demand"),
    ]


def test_too_long_instructions_are_cut_at_lines_and_reported(tmp_path: Path) -> None:
    rules = "".join(f"- rule {i}: keep the public API of module {i} stable\n" for i in range(1, 201))
    repo = make_repo(tmp_path / "repo", {"AGENTS.md": rules})
    block = build_block(discover(repo, None), 400, count)

    assert block.tokens <= 400
    entry = block.files[0]
    assert entry.included == "partial" and 0 < entry.kept_lines < entry.total_lines == 200
    assert entry.tokens > 400  # the whole file, counted
    kept_last = f"- rule {entry.kept_lines}: keep"
    assert kept_last in block.text and f"- rule {entry.kept_lines + 1}: keep" not in block.text
    assert f"[{200 - entry.kept_lines} more lines of AGENTS.md were left out" in block.text
    [notice] = block.notices
    assert f"AGENTS.md: kept lines 1-{entry.kept_lines} of 200" in notice
    assert "over their budget of 400 tokens" in notice and "instructions_budget" in notice


def test_the_root_file_is_kept_before_the_user_file(tmp_path: Path) -> None:
    user = tmp_path / "config"
    user.mkdir()
    (user / "AGENTS.md").write_text("".join(f"personal preference {i}\n" for i in range(300)))
    repo = make_repo(tmp_path / "repo", {"AGENTS.md": "Run the tests with `pytest -q`.\n"})
    block = build_block(discover(repo, user), 200, count)
    by_kind = {f.kind: f for f in block.files}
    assert by_kind["root"].included == "full"
    assert by_kind["user"].included == "partial"
    assert block.tokens <= 200


def test_budget_counted_with_the_real_tokenizer(tmp_path: Path, gemma_path: Path) -> None:
    from llama_cpp import Llama

    vocab = Llama(model_path=str(gemma_path), vocab_only=True, verbose=False)

    def real_count(text: str) -> int:
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False))

    rules = "".join(f"- rule {i}: prefer small pure functions in module_{i}\n" for i in range(40))
    repo = make_repo(tmp_path / "repo", {"AGENTS.md": rules, "sub/AGENTS.md": "sub rules\n"})
    whole = instructions_manifest(repo, None, 100_000, real_count)
    assert whole["files"][0]["included"] == "full"
    budget = whole["tokens"] - 60
    block = build_block(discover(repo, None), budget, real_count)
    assert block.tokens == real_count(block.text) <= budget
    root = block.files[0]
    assert root.path == "AGENTS.md" and root.tokens == real_count(rules.strip())
    assert root.included == "partial" and 0 < root.kept_lines < 40
    assert f"AGENTS.md: kept lines 1-{root.kept_lines} of 40" in block.notices[0]
