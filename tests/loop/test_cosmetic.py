"""Telling an edit that changes code from one that changes only comments and layout."""

from __future__ import annotations

from agent.loop.cosmetic import only_cosmetic, same_code
from agent.repo.journal import EditRecord

CODE = "def f(x):\n    return x + 1\n"


def test_comments_and_layout_are_the_same_code() -> None:
    assert same_code("a.py", CODE, "def f(x):  # add one\n    return x + 1  # fixed\n")
    assert same_code("a.py", CODE, "# header\n\n\ndef f( x ):\n    return (x +\n            1)\n")


def test_a_change_to_what_runs_is_not() -> None:
    assert not same_code("a.py", CODE, "def f(x):\n    return x + 2\n")
    assert not same_code("a.py", CODE, 'def f(x):\n    """Add one."""\n    return x + 1\n')  # a docstring
    assert not same_code("a.py", CODE, CODE)  # no change at all is another matter
    assert not same_code("a.py", CODE, "def f(x):\n    return x +\n")  # broken: it changed, for the worse
    assert not same_code("a.py", None, CODE) and not same_code("a.py", CODE, None)


def test_other_languages_are_not_judged() -> None:
    assert not same_code("a.js", "f(1)\n", "f(1) // note\n")


def test_only_cosmetic_needs_every_change_cosmetic() -> None:
    comment = EditRecord(seq=1, tool="edit_file", path="a.py", before=CODE, after=CODE + "# note\n")
    real = EditRecord(seq=2, tool="edit_file", path="b.py", before=CODE, after=CODE + "y = 1\n")
    assert only_cosmetic([comment])
    assert not only_cosmetic([comment, real])
    assert not only_cosmetic([])
