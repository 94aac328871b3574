"""The decode-time guard that keeps an edit_file call from closing new_text on its old_text."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from agent.engines.unchanged_edit import UnchangedEditGuard, closing_cut, closing_cuts, core

OLD = "    return s[len(s) // 2]\n"


def _call_text(old: str, new_so_far: str) -> str:
    """The canonical call text the grammar produces, cut inside new_text."""
    head = json.dumps(
        {"name": "edit_file", "arguments": {"path": "stats.py", "old_text": old, "new_text": ""}}
    )
    return head[: head.rindex('"new_text": "') + len('"new_text": "')] + json.dumps(new_so_far)[1:-1]


@pytest.mark.parametrize(
    ("escaped", "expected"),
    [
        ("x = 1\\n", "x = 1"),
        ("x = 1  \\n\\n \\t", "x = 1"),
        ("a\\\\n", "a\\\\n"),  # an escaped backslash then `n`: not a newline
        ("a\\\\\\n", "a\\\\"),
        ("", ""),
    ],
)
def test_core_drops_trailing_whitespace_escapes_only(escaped: str, expected: str) -> None:
    assert core(escaped) == expected


@pytest.mark.parametrize(
    ("piece", "cut"),
    [('"', ""), ('"}}', ""), (')"', ")"), ('\\n"', "\\n"), ('\\"', None), ('\\\\"', "\\\\"), ("ab", None)],
)
def test_closing_cut_finds_the_quote_that_closes_the_string(piece: str, cut: str | None) -> None:
    assert closing_cut(piece) == cut


@pytest.fixture(scope="module")
def cuts(qwen: Any) -> dict[int, str]:
    model = qwen._model
    return closing_cuts(
        (t, model.token_to_piece(t, special=True).rstrip(b"\0")) for t in range(int(qwen.n_vocab()))
    )


def _guard(qwen: Any, cuts: dict[int, str]) -> UnchangedEditGuard:
    return UnchangedEditGuard(cuts, lambda t: bytes(qwen._model.detokenize([t], special=True)))


def test_the_quote_that_would_close_new_text_on_old_text_is_masked(qwen: Any, cuts: dict[int, str]) -> None:
    guard = _guard(qwen, cuts)
    text = _call_text(OLD, OLD)  # new_text copied whole: the next quote would make a no-op edit
    ids = qwen.tokenize(text.encode(), add_bos=False, special=False)
    scores = np.zeros(int(qwen.n_vocab()), dtype=np.float32)
    guard(np.array([1, 2, 3]), np.zeros_like(scores))  # the prompt, before any generated token
    scores = guard(np.array([1, 2, 3, *ids]), scores)
    quote = qwen.tokenize(b'"', add_bos=False, special=False)
    assert len(quote) == 1 and scores[quote[0]] == -np.inf
    closing_braces = [
        t for t, cut in cuts.items() if cut == "" and qwen._model.token_to_piece(t).startswith(b'"}')
    ]
    assert closing_braces and all(scores[t] == -np.inf for t in closing_braces)
    # what would go on changing the text stays allowed, a trailing newline alone does not
    assert np.isfinite(scores[qwen.tokenize(b"x", add_bos=False, special=False)[0]])
    assert guard.blocked == 1
    assert set(guard.forbidden(text)) >= {t for t, cut in cuts.items() if cut in ("", "\\n")}


def test_nothing_is_masked_once_new_text_differs(qwen: Any, cuts: dict[int, str]) -> None:
    guard = _guard(qwen, cuts)
    assert guard.forbidden(_call_text(OLD, "    return s[(len(s) - 1) // 2]\n")) == []
    assert guard.forbidden(_call_text(OLD, "    return s[len(s) // 3")) == []
    # still copying, but far from the end: no token could close on old_text yet
    assert guard.forbidden(_call_text("x = 1\n" * 40, "x = 1\n")) == []
    # before new_text, and in calls with no old_text, nothing is touched
    assert (
        guard.forbidden('{"name": "edit_file", "arguments": {"path": "stats.py", "old_text": "    ret') == []
    )
    assert guard.forbidden('{"name": "create_file", "arguments": {"path": "a.py", "new_text": "') == []


def test_an_old_text_that_ends_short_of_a_token_is_caught_too(qwen: Any, cuts: dict[int, str]) -> None:
    guard = _guard(qwen, cuts)
    # one character short: a token holding that character and the quote closes on old_text
    forbidden = guard.forbidden(_call_text("x = 1)", "x = 1"))
    assert any(cuts[t] == ")" for t in forbidden)
    assert all(core(cuts[t]) == ")" for t in forbidden)


def test_when_only_the_closing_quote_is_allowed_it_is_left_alone(qwen: Any, cuts: dict[int, str]) -> None:
    guard = _guard(qwen, cuts)
    ids = qwen.tokenize(_call_text(OLD, OLD).encode(), add_bos=False, special=False)
    scores = np.full(int(qwen.n_vocab()), -np.inf, dtype=np.float32)
    quote = qwen.tokenize(b'"', add_bos=False, special=False)[0]
    scores[quote] = 0.0  # a grammar that allows nothing else: the guard must not dead-end it
    guard(np.array([1]), scores.copy())
    scores = guard(np.array([1, *ids]), scores)
    assert scores[quote] == 0.0 and guard.blocked == 0
