"""The llguidance logits processor against a real vocabulary whose call tags are added tokens.

Qwen2.5's vocabulary holds `<tool_call>` and `</tool_call>` as single added tokens: llguidance's
mask allows `</tool_call>` where the grammar has that text, but its matcher refuses the token
itself. The processor must follow the model through it (and through any call it writes), and when
the model does leave the grammar it must end the generation, not let it run on unconstrained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agent.engines.constrain import TokenMasker
from agent.formats import get_format
from tests.toolcalls import CALLS, TOOLS

pytestmark = pytest.mark.model


def allowed(processor: Any, ids: list[int], n_vocab: int) -> set[int]:
    scores = processor(ids, np.zeros(n_vocab, dtype=np.float32))
    return {int(t) for t in np.nonzero(scores > -np.inf)[0]}


def test_a_call_closed_by_the_added_token_is_followed_to_its_end(qwen: Any, masker: TokenMasker) -> None:
    fmt = get_format("hermes")
    close = qwen.tokenize(b"</tool_call>", add_bos=False, special=True)
    assert len(close) == 1 and masker.tokenizer.is_special_token(close[0])  # the case under test
    for call in CALLS:
        body = fmt.render_call(call)[len(fmt.opener) :]
        tokens = qwen.tokenize(body.encode(), add_bos=False, special=True)  # as the next prompt has it
        assert close[0] in tokens
        processor = masker.processor(fmt.body_grammar(TOOLS).lark)
        prompt = [1, 2, 3]
        for at, token in enumerate(tokens):
            assert token in allowed(processor, prompt + tokens[:at], masker.n_vocab), (call.name, at)
        assert allowed(processor, prompt + tokens, masker.n_vocab) <= set(masker.eos_tokens)
        assert processor.error is None and processor.accepting


def test_leaving_the_grammar_ends_the_generation(qwen: Any, masker: TokenMasker) -> None:
    processor = masker.processor(get_format("hermes").body_grammar(TOOLS).lark)
    prompt = [1, 2, 3]
    allowed(processor, prompt, masker.n_vocab)
    stray = qwen.tokenize(b"hello", add_bos=False, special=False)
    assert set(allowed(processor, prompt + stray, masker.n_vocab)) == set(masker.eos_tokens)
    assert processor.error and "left the grammar" in processor.error
    assert masker.eos_tokens and 151645 in masker.eos_tokens  # <|im_end|>


def test_a_positive_number_argument_cannot_be_zero_or_negative(qwen: Any, masker: TokenMasker) -> None:
    """shell's `timeout` is `gt=0`: the e2e run with the 0.5B model sent 0, which then failed
    validation. The grammar takes 30, 0.5 and 2.25, never 0, 0.0 or -1."""
    from tools.registry import Toolbox, default_tools

    fmt = get_format("hermes")
    lark = fmt.body_grammar(Toolbox(default_tools()).specs(), only="shell").lark
    head = '\n{"name": "shell", "arguments": {"command": "ls", "timeout": '

    def takes(value: str) -> bool:
        processor = masker.processor(lark)
        tokens = qwen.tokenize((head + value + "}}\n").encode(), add_bos=False, special=True)
        prompt = [1, 2, 3]
        return all(
            token in allowed(processor, prompt + tokens[:at], masker.n_vocab)
            for at, token in enumerate(tokens)
        )

    assert takes("30") and takes("0.5") and takes("2.25")
    assert not takes("0") and not takes("0.0") and not takes("-1")
