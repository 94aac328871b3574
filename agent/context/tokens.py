"""Token counters for `agent context`: the configured model's own tokenizer, without its weights.

A GGUF is opened vocabulary-only (no weights are loaded: a fraction of a second); a server is
asked through its engine (its /tokenize endpoint or its estimate); with no model at all, an
estimate is used and said so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from agent.config import AgentConfig
from agent.messages import Message
from agent.models.resolution import ModelNotFound, resolve_model

CountTokens = Callable[[str], int]
CHARS_PER_TOKEN = 3.5


def gguf_counter(path: Path, fit_check: bool = True) -> CountTokens:
    from llama_cpp import Llama

    if fit_check:  # as the engine does: a header our reader cannot parse is not handed to llama.cpp
        from agent.engines import check_header

        check_header(path)
    llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def counter_for(config: AgentConfig) -> tuple[CountTokens, str]:
    """A counter and the name of the tokenizer it uses."""
    if config.base_url:
        from agent.engines import build_engine

        engine = build_engine(config)
        return (lambda text: engine.count_tokens([Message.user(text)], [])), f"{config.base_url} (server)"
    try:
        resolved = resolve_model(None, config.model)
    except ModelNotFound:
        return estimate, f"an estimate ({CHARS_PER_TOKEN} characters per token: no model installed)"
    return gguf_counter(resolved.path, config.fit_check), resolved.path.name
