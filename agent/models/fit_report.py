"""How a `FitPlan` is shown: a table for people, a JSON object for programs, and the llama-server
command line that runs the same settings (the way to keep MoE experts on the CPU)."""

from __future__ import annotations

import shlex
from typing import Any

from agent.models.estimate import KV_TYPES
from agent.models.fit import FitPlan
from agent.models.hardware import GB


def _gb(n: int) -> str:
    return f"{n / GB:.2f} GB"


def server_command(plan: FitPlan, model_path: str, port: int = 8080) -> str:
    """llama-server with the plan's settings; its OpenAI API is then `--base-url .../v1`."""
    args = ["llama-server", "-m", model_path, "-c", str(plan.n_ctx * plan.parallel)]
    if plan.parallel > 1:
        args += ["-np", str(plan.parallel)]
    if plan.n_gpu_layers:
        args += ["-ngl", "999" if plan.n_gpu_layers > plan.shape.n_layer else str(plan.n_gpu_layers)]
    if plan.n_cpu_moe:
        args += ["--n-cpu-moe", str(plan.n_cpu_moe)]
    if plan.flash_attn:
        args += ["-fa", "on"]
    if plan.kv_type != "f16":
        args += ["-ctk", plan.kv_type, "-ctv", plan.kv_type]
    if plan.experts_used:
        args += ["--override-kv", f"{plan.architecture}.expert_used_count=int:{plan.experts_used}"]
    args += ["-t", str(plan.threads), "-ub", str(plan.n_ubatch), "--jinja", "--port", str(port)]
    return shlex.join(args)


def _shape_rows(plan: FitPlan) -> list[tuple[str, str]]:
    s = plan.shape
    attention = (
        "standard (GQA)"
        if s.attention == "standard"
        else (
            f"MLA (kv_lora_rank {s.kv_lora_rank}, K/V head {s.head_k_mla}/{s.head_v_mla}, "
            f"cached {s.head_k} per token)"
        )
    )
    rows = [
        ("architecture", f"{plan.architecture}, {plan.params / 1e9:.2f} B parameters, {plan.quant}"),
        ("layers", f"{s.n_layer}" + (f" (+{s.n_layer_nextn} MTP, not loaded)" if s.n_layer_nextn else "")),
        ("heads", f"{max(s.n_head)} query, {max(s.n_head_kv)} KV, head size {s.head_k}/{s.head_v}"),
        ("attention", attention),
        ("trained context", str(s.n_ctx_train)),
    ]
    if s.sliding_window:
        rows.append(("sliding window", f"{s.sliding_window} tokens on {sum(s.swa_layers)} layers"))
    if s.indexer_heads:
        rows.append(("sparse attention", f"indexer {s.indexer_heads} heads x {s.indexer_head_size}"))
    if s.is_moe:
        used = plan.experts_used or s.n_expert_used
        rows.append(("experts", f"{s.n_expert} routed, {used} used per token, {s.n_expert_shared} shared"))
    return rows


def _memory_rows(plan: FitPlan) -> list[tuple[str, str]]:
    w = plan.weights
    types = ", ".join(f"{t} {_gb(b)}" for t, b in list(w.by_type.items())[:4])
    kv = ", ".join(f"{t} {_gb(plan.kv_by_type[t])}" for t in KV_TYPES)
    hw = plan.hardware
    have = f"RAM {_gb(hw.ram_available)} free of {_gb(hw.ram_total)}"
    if hw.vram_total:
        have += f", VRAM {_gb(hw.vram_free)} free of {_gb(hw.vram_total)}"
    rows = [
        ("weights", f"{_gb(w.loaded_bytes)} loaded ({_gb(w.file_bytes)} in the file: {types})"),
        ("KV cache", f"{_gb(plan.kv_bytes)} {plan.kv_type} for {plan.n_ctx} tokens ({kv})"),
        ("compute buffers", _gb(plan.compute_bytes)),
        (
            "needs",
            f"RAM {_gb(plan.ram_bytes)}" + (f", VRAM {_gb(plan.vram_bytes)}" if plan.vram_bytes else ""),
        ),
        ("has", f"{have} ({hw.source}); {hw.cores} cores, {hw.cpus} CPUs"),
    ]
    if sum(w.expert_bytes):
        rows.insert(1, ("routed experts", f"{_gb(sum(w.expert_bytes))} of the weights"))
    return rows


def _settings_rows(plan: FitPlan) -> list[tuple[str, str]]:
    gpu = "all" if plan.n_gpu_layers > plan.shape.n_layer else str(plan.n_gpu_layers)
    rows = [
        ("n_ctx", str(plan.n_ctx) + (f" per sequence x {plan.parallel}" if plan.parallel > 1 else "")),
        ("KV cache type", plan.kv_type + (" (flash attention on)" if plan.flash_attn else "")),
        ("GPU layers", gpu),
        ("threads", f"{plan.threads} decode, {plan.threads_batch} prompt"),
        ("batch", f"{plan.n_batch} (micro-batch {plan.n_ubatch})"),
    ]
    if plan.shape.is_moe:
        rows.insert(
            3,
            ("experts on CPU", f"first {plan.n_cpu_moe} layers (--n-cpu-moe)" if plan.n_cpu_moe else "none"),
        )
    return rows


def render_table(plan: FitPlan, model_path: str) -> str:
    lines = [f"{plan.model}: {'fits' if plan.fits else 'DOES NOT FIT'}"]
    for title, rows in (
        ("model", _shape_rows(plan)),
        ("memory", _memory_rows(plan)),
        ("recommended", _settings_rows(plan)),
    ):
        lines.append(f"\n{title}")
        lines.extend(f"  {k:<18} {v}" for k, v in rows)
    lines.extend(f"note: {n}" for n in plan.notes)
    if not plan.fits:
        lines.append(plan.message())
    lines.append(f"\nllama-server: {server_command(plan, model_path)}")
    return "\n".join(lines)


def plan_json(plan: FitPlan, model_path: str) -> dict[str, Any]:
    data = plan.model_dump(mode="json")
    data["need_bytes"] = plan.need_bytes
    data["message"] = plan.message()
    data["server_command"] = server_command(plan, model_path)
    return data
