"""Token sets of the model's vocabulary that the embedded engine's logits processors use, from one
walk of the vocabulary (~0.3 s for Qwen's 151K tokens), made when first needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.engines.unchanged_edit import UnchangedEditGuard, closing_cuts
from agent.formats.stream import THINK_CLOSE


class VocabularyTables:
    def __init__(self, llama: Any) -> None:
        self._llama = llama
        self._blank_tokens: list[int] | None = None
        self._closing_tokens: list[int] = []
        self._quote_cuts: dict[int, str] | None = None  # see agent/engines/unchanged_edit.py

    def _token_tables(self) -> None:
        model = self._llama._model
        pieces = [
            (token, model.token_to_piece(token, special=True).rstrip(b"\0"))
            for token in range(int(self._llama.n_vocab()))
        ]
        self._blank_tokens = [token for token, piece in pieces if piece and not piece.strip()]
        self._closing_tokens = [token for token, piece in pieces if piece and _starts_closing(piece)]
        self._quote_cuts = closing_cuts(pieces)

    def unchanged_edit_guard(self, piece: Callable[[int], bytes]) -> UnchangedEditGuard:
        if self._quote_cuts is None:
            self._token_tables()
        assert self._quote_cuts is not None
        return UnchangedEditGuard(self._quote_cuts, piece)

    def no_blank_start(self, closing: bool) -> Any:
        """A logits processor that keeps the pass's first token from being whitespace only, and
        (`closing`: the pass opens the reasoning) from being the start of its closing tag.

        Templates strip what they render back (`<think>{{ reasoning.strip() }}`, the content
        likewise), so a reply that opens with a newline would never match its own next prompt and
        all of it would be evaluated again; and they render an empty reasoning as no `<think>` at
        all (GLM-4.7/5: `<|assistant|></think>`), while the generation prompt opened one.
        """
        import numpy as np

        if self._blank_tokens is None:
            self._token_tables()
        assert self._blank_tokens is not None
        blank = np.array(self._blank_tokens + (self._closing_tokens if closing else []), dtype=np.int64)
        first = [True]

        def processor(input_ids: Any, scores: Any) -> Any:
            if first[0]:
                first[0] = False
                scores[blank] = -np.inf
            return scores

        return processor


def _starts_closing(piece: bytes) -> bool:
    """The token's text is the reasoning's closing tag, or how it begins."""
    close = THINK_CLOSE.encode()
    return close.startswith(piece) or piece.startswith(close)
