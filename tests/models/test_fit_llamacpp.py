"""Fit estimates against what llama.cpp itself allocates for the real 270M GGUF.

llama.cpp reports its buffers on stderr when loaded verbosely ("KV buffer size = X MiB", "model
buffer size = X MiB", "compute buffer size = X MiB") and the model size through
`llama_model_size`. The estimate must match the KV cache and the weights within 5% at three context
sizes and two KV cache types (it matches exactly); the compute buffer, a coarser estimate, within 10%.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from agent.build import load_settings
from agent.config import load_config
from agent.engines.llama_load import load_llama
from agent.models.estimate import compute_buffer, kv_cache, weights
from agent.models.gguf_file import read_model
from agent.models.load_plan import GGML_TYPE_IDS
from agent.models.shape import model_shape

pytestmark = pytest.mark.model
MIB = 1 << 20
CASES = [(ctx, kv) for ctx in (1024, 4096, 16384) for kv in ("f16", "q8_0")]


def _mib(pattern: str, log: str) -> float:
    return sum(float(x) for x in re.findall(pattern + r"\s*=\s*([\d.]+) MiB", log))


def load_reporting(path: Path, **kwargs: Any) -> tuple[Any, str]:
    """The loaded model and llama.cpp's own log of what it allocated."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        llama = load_llama(path, verbose=True, **kwargs)
    return llama, buffer.getvalue()


@pytest.mark.parametrize(("n_ctx", "kv_type"), CASES)
def test_kv_weights_and_compute_match_llama_cpp(gemma_path: Path, n_ctx: int, kv_type: str) -> None:
    type_id = GGML_TYPE_IDS[kv_type]
    flash = kv_type != "f16"
    llama, log = load_reporting(gemma_path, n_ctx=n_ctx, type_k=type_id, type_v=type_id, flash_attn=flash)
    try:
        model_bytes = llama_cpp.llama_model_size(llama._model.model)
    finally:
        llama.close()
    model = read_model(gemma_path)
    shape = model_shape(model)
    kv = kv_cache(shape, n_ctx, kv_type)  # llama-cpp-python keeps the full-size SWA cache
    measured_kv = _mib(r"KV buffer size", log) * MIB
    assert measured_kv > 0 and abs(kv.total - measured_kv) / measured_kv < 0.05
    loaded = weights(model, shape).loaded_bytes
    mapped = _mib(r"CPU_Mapped model buffer size", log) * MIB
    assert abs(loaded - model_bytes) / model_bytes < 0.05 and abs(loaded - mapped) / mapped < 0.05
    measured_compute = _mib(r"sched_reserve:\s+CPU compute buffer size", log) * MIB
    estimate = compute_buffer(shape, n_ctx, 512, flash)
    assert abs(estimate - measured_compute) / measured_compute < 0.10


def test_the_engine_applies_the_recommended_settings(gemma_path: Path) -> None:
    """A context beyond the trained one is clamped, a q8_0 cache turns flash attention on."""
    config = load_config(None, {"n_ctx": 100_000, "kv_cache_type": "q8_0"}, env={})
    said: list[str] = []
    kwargs = load_settings(config, gemma_path, said.append)
    assert kwargs["n_ctx"] == 32768 and kwargs["flash_attn"] and kwargs["type_v"] == GGML_TYPE_IDS["q8_0"]
    assert "beyond the trained 32768" in said[0]
    llama, log = load_reporting(gemma_path, **kwargs)
    try:
        assert llama.n_ctx() == 32768
        assert llama.context_params.type_k == llama.context_params.type_v == GGML_TYPE_IDS["q8_0"]
    finally:
        llama.close()
    assert "K (q8_0)" in log and "flash_attn            = enabled" in log
