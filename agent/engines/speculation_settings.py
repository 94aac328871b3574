"""Prompt-lookup settings per model, keyed by GGUF file name; a model not listed gets `GENERIC`.

How they were chosen (tests/bench/bench_decode.py --speculation, and the batch timing it rests on):
the cost of verifying a draft was measured on the 1.5B Q4_K_M on 2 cores, a batch of 1 + k tokens
against a one-token step (load average 1.7): 1.5-1.6x for k=1, 1.4-1.9x for k=3, 3.0-3.6x for
k=7, 4.9x for k=15 (each drafted token adds 0.25-0.5 of a step; `batch_cost` takes 0.35). With
that cost a draft pays only where its tokens are kept more often than about one time in three, so
drafts are sized online from the acceptance seen (`ngram_draft.best_size`) and capped by the match length; a
3-token match (`min_match`) is the shortest that is not mostly coincidence in code and prose. The
0.5B and the 270M share the settings: their batch cost is of the same shape on this CPU.

None as a value would mean drafting does not pay for that model and leaves it off.
"""

from __future__ import annotations

from agent.engines.ngram_draft import NgramSettings

GENERIC = NgramSettings(min_match=3, max_draft=16, growth=1.0, max_backoff=4, batch_cost=0.35)

MEASURED: dict[str, NgramSettings | None] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": GENERIC,
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf": GENERIC,
}


def ngram_settings(model_file: str) -> NgramSettings | None:
    """The prompt-lookup settings for a model file (None: no drafting)."""
    return MEASURED.get(model_file.lower(), GENERIC)
