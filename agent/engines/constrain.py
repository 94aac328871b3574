"""Fast grammar-constrained decoding for llama-cpp-python with llguidance token masks.

llama-cpp-python's GBNF sampler checks the grammar against the whole vocabulary for every token
(the 270M model drops from ~65 to ~15 tok/s). llguidance computes the mask for the same language
(written in its Lark dialect) in well under a millisecond; it plugs in as a logits processor.
When llguidance is not installed or refuses a grammar, the engine falls back to GBNF.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


class ConstraintError(Exception):
    """The grammar could not be compiled or the model left it (a bug, not a model mistake)."""


def llguidance_available() -> bool:
    try:
        import llguidance
        import llguidance.llamacpp  # noqa: F401
    except ImportError:
        return False
    return True


class TokenMasker:
    """Builds, once per model, the llguidance tokenizer from the llama.cpp vocabulary (~1 s)."""

    def __init__(self, llama: Any) -> None:
        import llama_cpp
        from llguidance.llamacpp import lltokenizer_from_vocab

        vocab = llama._model.vocab
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        with warnings.catch_warnings():  # it calls a llama.cpp function deprecated under a new name
            warnings.simplefilter("ignore", DeprecationWarning)
            self.tokenizer = lltokenizer_from_vocab(vocab)
        self.eos_tokens = [t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]

    def processor(self, lark: str) -> GrammarProcessor:
        return GrammarProcessor(self, lark)


class GrammarProcessor:
    """A llama-cpp-python logits processor that masks every token the grammar forbids."""

    def __init__(self, masker: TokenMasker, lark: str) -> None:
        import llguidance

        grammar = llguidance.grammar_from("lark", lark)
        self.matcher = llguidance.LLMatcher(masker.tokenizer, grammar, log_level=0)
        if self.matcher.is_error():
            raise ConstraintError(f"grammar rejected by llguidance: {self.matcher.get_error()}")
        self._bits = np.zeros((masker.n_vocab + 31) // 32, dtype=np.int32)
        self._masker = masker
        self._start: int | None = None
        self._consumed = 0
        self.error: str | None = None  # set when the model left the grammar; the generation then ends

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._start is None:
            self._start = len(input_ids)
        if self.error is None:
            for token in input_ids[self._start + self._consumed :]:
                self._consume(int(token))
                self._consumed += 1
            if self.matcher.is_error():
                self.error = f"constrained decoding left the grammar: {self.matcher.get_error()}"
        if self.error is not None:  # raising here would be swallowed by the ctypes callback
            scores[:] = -np.inf
            scores[self._masker.eos_tokens] = 0.0  # end the generation instead of going on unconstrained
            return scores
        self.matcher.unsafe_compute_mask_ptr(self._bits.ctypes.data, self._bits.nbytes)
        allowed = np.unpackbits(self._bits.view(np.uint8), bitorder="little")[: len(scores)]
        scores[allowed == 0] = -np.inf
        return scores

    def _consume(self, token: int) -> None:
        """Feed one sampled token to the matcher.

        A tag the vocabulary holds as one added token (Qwen's `</tool_call>`, GLM's `<arg_key>`) is
        allowed by llguidance's mask where the grammar has its text, but the matcher refuses the token
        itself (it treats it as special): it then consumes the tag's text, spelled in plain tokens.
        """
        if self.matcher.validate_tokens([token]) == 0 and self._masker.tokenizer.is_special_token(token):
            spelled = self._masker.tokenizer.greedy_tokenize(self._masker.tokenizer.decode_str([token]))
            if spelled and self.matcher.validate_tokens(spelled) == len(spelled):
                self.matcher.consume_tokens(spelled)
                return
        self.matcher.consume_token(token)

    @property
    def accepting(self) -> bool:
        return bool(self.matcher.is_accepting())
