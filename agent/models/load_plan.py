"""The settings the embedded engine loads a GGUF with, checked against this machine's memory first.

`plan_load` turns the knobs (config and flags) into llama-cpp-python arguments: a context within
the trained one and within memory, a KV cache type (quantised V needs flash attention), GPU layers,
threads, batch sizes, and the `<arch>.expert_used_count` override. A model that cannot fit raises
`ModelDoesNotFit` with what it needs, what there is, and what would fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.models.fit import FitPlan, FitRequest, plan_fit
from agent.models.fit_report import server_command
from agent.models.gguf_file import GGUFModel, read_model
from agent.models.hardware import GB, Hardware, detect
from agent.models.knobs import ResolvedKnobs

# GGML type ids llama-cpp-python takes as type_k / type_v
GGML_TYPE_IDS = {"f16": 1, "q4_0": 2, "q8_0": 8}


class ModelDoesNotFit(Exception):
    """The model cannot run here with these settings; the message says what would."""


class LoadPlan(BaseModel):
    n_ctx: int
    n_threads: int
    n_threads_batch: int
    n_batch: int
    n_ubatch: int
    n_gpu_layers: int
    flash_attn: bool
    type_k: int
    type_v: int
    kv_overrides: dict[str, int]
    kv_cache_type: str
    thinking: str | None  # for the chat template (wired by the engine)
    summary: str

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `load_llama`."""
        return self.model_dump(
            include={
                "n_ctx",
                "n_threads",
                "n_threads_batch",
                "n_batch",
                "n_ubatch",
                "n_gpu_layers",
                "flash_attn",
                "type_k",
                "type_v",
                "kv_overrides",
            }
        )


def _experts(model: GGUFModel, plan: FitPlan, knobs: ResolvedKnobs) -> dict[str, int]:
    if knobs.experts_used is None:
        return {}
    shape = plan.shape
    if not shape.is_moe:
        raise ModelDoesNotFit(f"{plan.model} is not a mixture-of-experts model: experts_used does not apply")
    if knobs.experts_used > shape.n_expert:
        raise ModelDoesNotFit(
            f"experts_used = {knobs.experts_used}, but {plan.model} has {shape.n_expert} experts per layer"
        )
    return {f"{model.architecture}.expert_used_count": knobs.experts_used}


def _refusal(plan: FitPlan, path: Path) -> str:
    if plan.fits and plan.needs_server:
        return (
            f"{plan.model} fits only with its routed experts in RAM and the rest on the GPU, which "
            f"llama-cpp-python cannot do. Run\n  {server_command(plan, str(path))}\nand pass "
            "--base-url http://127.0.0.1:8080/v1"
        )
    return plan.message() + " (set fit_check = false in the config to load it anyway)"


def plan_load(
    path: Path,
    knobs: ResolvedKnobs,
    default_ctx: int,
    gpu_offload: bool = False,
    hardware: Hardware | None = None,
) -> LoadPlan:
    """Recommended settings for `path`; `ModelDoesNotFit` when it cannot run here."""
    model = read_model(path)
    hw = hardware or detect()
    request = FitRequest(
        n_ctx=knobs.n_ctx if "n_ctx" in knobs.explicit and knobs.n_ctx else default_ctx,
        ctx_explicit="n_ctx" in knobs.explicit,
        kv_type=knobs.kv_cache_type,
        experts_used=knobs.experts_used,
        expert_offload=False,
        gpu_offload=gpu_offload,
    )
    plan = plan_fit(model, hw, request)
    overrides = _experts(model, plan, knobs)
    if not plan.fits or plan.needs_server:
        raise ModelDoesNotFit(_refusal(plan, path))
    kv_id = GGML_TYPE_IDS[plan.kv_type]
    threads = knobs.threads or plan.threads
    notes = "; ".join(plan.notes)
    summary = (
        f"fit: {plan.need_bytes / GB:.1f} GB of {(hw.ram_available + hw.vram_free) / GB:.1f} GB "
        f"(n_ctx {plan.n_ctx}, KV {plan.kv_type}, {threads} threads"
        + (f", {plan.n_gpu_layers} GPU layers" if plan.n_gpu_layers else "")
        + ")"
        + (f"; {notes}" if notes else "")
    )
    return LoadPlan(
        n_ctx=plan.n_ctx,
        n_threads=threads,
        n_threads_batch=knobs.threads or plan.threads_batch,
        n_batch=plan.n_batch,
        n_ubatch=plan.n_ubatch,
        n_gpu_layers=plan.n_gpu_layers,
        flash_attn=plan.flash_attn,
        type_k=kv_id,
        type_v=kv_id,
        kv_overrides=overrides,
        kv_cache_type=plan.kv_type,
        thinking=knobs.thinking,
        summary=summary,
    )
