"""Prompt-lookup settings per model: measured with tests/bench/bench_decode.py, not assumed.

Keyed by GGUF file name. A model not listed gets `GENERIC`. None would mean drafting does not pay
for that model (a batch position costing as much as a decode step) and leaves it off.
"""

from __future__ import annotations

from agent.engines.ngram_draft import NgramSettings

GENERIC = NgramSettings(min_match=3, max_draft=16, growth=1.0)

MEASURED: dict[str, NgramSettings | None] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": GENERIC,
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf": GENERIC,
}


def ngram_settings(model_file: str) -> NgramSettings | None:
    """The prompt-lookup settings for a model file (None: no drafting)."""
    return MEASURED.get(model_file.lower(), GENERIC)
