"""agent/repo/languages.py: the one extension table, and what kind of file a path is."""

from __future__ import annotations

import pytest
from tree_sitter_language_pack import get_parser

from agent.repo.languages import GRAMMARS, grammar_for, is_doc_path, is_test_path


@pytest.mark.parametrize("grammar", sorted(set(GRAMMARS.values())))
def test_every_extension_maps_to_a_grammar_the_language_pack_has(grammar: str) -> None:
    parser = get_parser(grammar)  # type: ignore[arg-type]
    assert parser.parse(b"x").root_node is not None


def test_the_union_of_the_two_old_tables_is_kept() -> None:
    for suffix in (".mts", ".cts", ".cxx", ".hh", ".hpp", ".hxx", ".tsx"):
        assert suffix in GRAMMARS
    assert grammar_for("src/App.TSX") == "tsx"
    assert grammar_for("notes.txt") is None


def test_path_kinds() -> None:
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/x_test.go") and is_test_path("a/b.spec.ts")
    assert not is_test_path("src/testing_utils.py")
    assert is_doc_path("docs/guide.py") and is_doc_path("README.md")
