"""Keep the tokens already in the KV cache when the next prompt says the same text.

The model's own output rarely comes back in the next prompt as the same tokens: the prompt is
re-rendered as text and re-tokenized canonically, while sampling may have produced another
split of the same bytes (`"type":` as `"type` + `":`, a constrained call token by token). Token
by token prefix matching then re-evaluates everything after the first such split, often the whole
reply and all that follows it. Here the prompt keeps the cached tokens for as long as their bytes
agree with the prompt's bytes, and only the rest is tokenized afresh; the result is checked to
say exactly the prompt's bytes, else the canonical tokens are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Piece = Callable[[int], bytes]
TokenizeBytes = Callable[[bytes], list[int]]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def reuse_cached_tokens(
    want: Sequence[int], cached: Sequence[int], piece: Piece, tokenize: TokenizeBytes
) -> list[int]:
    """`want` (canonical prompt tokens), with as much of `cached` as says the same bytes."""
    start = common_prefix(want, cached)
    if start == len(want) or start == len(cached):
        return list(want)
    rest = b"".join(piece(t) for t in want[start:])
    taken = 0
    used = 0
    for token in cached[start:]:
        text = piece(token)
        if not text or not rest.startswith(text, taken):
            break
        taken += len(text)
        used += 1
    if used == 0:
        return list(want)
    tail = tokenize(rest[taken:]) if taken < len(rest) else []
    spliced = [*cached[: start + used], *tail]
    if b"".join(piece(t) for t in spliced[start:]) != rest:
        return list(want)  # the split changed the text (a tokenizer's added prefix space, …)
    return spliced
