"""Prompt tokens keep the KV cache's own split of text the cache already holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.engines.llama_load import load_llama
from agent.engines.token_reuse import reuse_cached_tokens


@pytest.fixture(scope="module")
def llama(gemma_path: Path) -> Any:
    return load_llama(gemma_path, n_ctx=512)


def _tools(llama: Any) -> tuple[Any, Any]:
    def piece(token: int) -> bytes:
        return bytes(llama._model.detokenize([token], special=True))

    def tokenize(data: bytes) -> list[int]:
        return list(llama.tokenize(data, add_bos=False, special=True))

    return piece, tokenize


def _split_differently(tokenize: Any, text: str) -> list[int]:
    """The same bytes as two tokenizations glued at a seam inside a word: not the canonical split."""
    at = len(text) // 2
    return tokenize(text[:at].encode()) + tokenize(text[at:].encode())


@pytest.mark.model
def test_a_reply_sampled_in_another_split_is_kept_and_only_the_rest_is_new(llama: Any) -> None:
    piece, tokenize = _tools(llama)
    prompt = "<start_of_turn>user\nFix the median.<end_of_turn>\n<start_of_turn>model\n"
    reply = '{"name": "read_file", "arguments": {"path": "stats/median.py"}}'
    cached = tokenize(prompt.encode()) + _split_differently(tokenize, reply)
    following = "<end_of_turn>\n<start_of_turn>user\nresult: ok<end_of_turn>\n"
    want = tokenize((prompt + reply + following).encode())
    assert want[: len(cached)] != cached  # canonical tokens diverge inside the reply

    spliced = reuse_cached_tokens(want, cached, piece, tokenize)

    assert spliced[: len(cached)] == cached  # the whole reply reused
    assert b"".join(piece(t) for t in spliced) == (prompt + reply + following).encode()
    assert len(spliced) - len(cached) <= len(tokenize(following.encode())) + 1


@pytest.mark.model
def test_cached_text_the_prompt_does_not_say_is_not_reused(llama: Any) -> None:
    piece, tokenize = _tools(llama)
    cached = tokenize(b"def median(xs):\n    return xs[len(xs) // 2]\n")
    want = tokenize(b"def median(xs):\n    return sorted(xs)[len(xs) // 2]\n")

    spliced = reuse_cached_tokens(want, cached, piece, tokenize)

    assert b"".join(piece(t) for t in spliced) == b"".join(piece(t) for t in want)
    common = next(i for i, (a, b) in enumerate(zip(cached, spliced, strict=False)) if a != b)
    assert b"sorted" not in b"".join(piece(t) for t in spliced[:common])


def test_identical_or_unrelated_prompts_come_back_canonical() -> None:
    def piece(token: int) -> bytes:
        return bytes([token])

    def tokenize(data: bytes) -> list[int]:
        return list(data)

    assert reuse_cached_tokens([1, 2, 3], [1, 2, 3], piece, tokenize) == [1, 2, 3]
    assert reuse_cached_tokens([1, 2, 3], [], piece, tokenize) == [1, 2, 3]
    assert reuse_cached_tokens([1, 2, 3], [9, 9], piece, tokenize) == [1, 2, 3]
