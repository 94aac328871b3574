"""Does a model fit this machine, and with which settings: context, KV cache type, GPU layers,
MoE experts kept on the CPU, threads, batch sizes. Pure functions of the GGUF header and a
`Hardware` description; `agent models fit` and the embedded engine both call `plan_fit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from agent.models.estimate import KV_TYPES, KvCache, Weights, compute_buffer, kv_cache, weights
from agent.models.gguf_file import GGUFModel
from agent.models.hardware import GB, Hardware
from agent.models.shape import ModelShape, model_shape

KvType = Literal["f16", "q8_0", "q4_0"]
OVERHEAD = 400_000_000  # llama.cpp context, tokenizer tables, the agent itself
VRAM_RESERVE = 600_000_000  # CUDA context and driver buffers
MIN_CTX = 2048
# Rough bits per weight of common quantisations (llama-quantize's reference sizes), for "try Q2_K".
QUANT_BPW = (
    ("Q8_0", 8.5),
    ("Q6_K", 6.6),
    ("Q5_K_M", 5.7),
    ("Q4_K_M", 4.9),
    ("Q3_K_M", 4.0),
    ("Q2_K", 3.2),
    ("IQ2_XXS", 2.4),
    ("IQ1_S", 1.9),
)


class FitRequest(BaseModel):
    n_ctx: int | None = None  # None: the trained context, or as much of it as fits
    ctx_explicit: bool = False  # a context the user asked for: not shrunk to fit
    kv_type: KvType | None = None  # None: f16, else the smallest quantised type that fits
    parallel: int = 1
    experts_used: int | None = None
    n_ubatch: int = 512
    swa_full: bool = True  # llama-cpp-python's default; llama-server defaults to False
    expert_offload: bool = True  # False for the embedded engine (llama-cpp-python cannot do it)
    gpu_offload: bool = True  # whether the runtime can use the GPU at all


@dataclass
class Placement:
    n_gpu_layers: int
    n_cpu_moe: int
    ram: int
    vram: int
    fits: bool


class FitPlan(BaseModel):
    model: str
    architecture: str
    quant: str
    params: int
    weights: Weights
    shape: ModelShape
    hardware: Hardware
    n_ctx: int
    kv_type: str
    flash_attn: bool
    n_gpu_layers: int
    n_cpu_moe: int
    threads: int
    threads_batch: int
    n_batch: int
    n_ubatch: int
    parallel: int
    experts_used: int | None
    kv_bytes: int
    kv_by_type: dict[str, int]  # each KV type at n_ctx
    compute_bytes: int
    ram_bytes: int
    vram_bytes: int
    fits: bool
    needs_server: bool  # experts must stay on the CPU: llama-server can, llama-cpp-python cannot
    notes: list[str]
    suggestions: list[str]

    @property
    def need_bytes(self) -> int:
        return self.ram_bytes + self.vram_bytes

    def message(self) -> str:
        """One line for a user: what it needs, what there is, and what would fit."""
        have = self.hardware.ram_available + self.hardware.vram_free
        need = (
            f"{self.model} needs {self.need_bytes / GB:.1f} GB ({self.weights.loaded_bytes / GB:.1f} GB "
            f"weights + {self.kv_bytes / GB:.1f} GB {self.kv_type} KV cache for {self.n_ctx} tokens + "
            f"{self.compute_bytes / GB:.1f} GB compute), you have {have / GB:.1f} GB"
        )
        if self.hardware.vram_free:
            need += f" ({self.hardware.ram_available / GB:.1f} RAM + {self.hardware.vram_free / GB:.1f} VRAM)"
        return need + (": try " + " or ".join(self.suggestions) if self.suggestions else "")


def quant_label(model: GGUFModel, w: Weights) -> str:
    from gguf.constants import LlamaFileType

    ftype = model.metadata.get("general.file_type")
    try:
        name = LlamaFileType(int(ftype if isinstance(ftype, int) else -1)).name
    except ValueError:
        return next(iter(w.by_type), "?")
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


class _Sizer:
    """Memory of one configuration, and where it goes."""

    def __init__(self, shape: ModelShape, w: Weights, hw: Hardware, req: FitRequest) -> None:
        self.shape, self.w, self.hw, self.req = shape, w, hw, req
        self.gpu = req.gpu_offload and hw.vram_free > VRAM_RESERVE
        self.ram_budget = hw.ram_available - OVERHEAD
        self.vram_budget = hw.vram_free - VRAM_RESERVE if self.gpu else 0

    def kv(self, n_ctx: int, kv_type: str) -> KvCache:
        r = self.req
        return kv_cache(self.shape, n_ctx * r.parallel, kv_type, r.parallel, r.swa_full, r.n_ubatch)

    def compute(self, n_ctx: int, kv_type: str) -> int:
        r = self.req
        flash = flash_attention(self.shape, n_ctx * r.parallel, kv_type)
        return compute_buffer(self.shape, n_ctx * r.parallel, r.n_ubatch, flash, r.parallel, r.experts_used)

    def place(self, n_ctx: int, kv_type: str) -> Placement:
        kv, comp = self.kv(n_ctx, kv_type), self.compute(n_ctx, kv_type)
        w = self.w
        everything = w.loaded_bytes + kv.total + comp
        if not self.gpu:
            return Placement(0, 0, everything, 0, everything <= self.ram_budget)
        on_gpu_all = everything - w.embd_bytes
        if on_gpu_all <= self.vram_budget:
            return Placement(
                self.shape.n_layer + 1, 0, w.embd_bytes, on_gpu_all, w.embd_bytes <= self.ram_budget
            )
        if self.shape.is_moe and self.req.expert_offload:
            moe = self._expert_split(kv, comp)
            if moe is not None:
                return moe
        return self._layer_split(kv, comp)

    def _expert_split(self, kv: KvCache, comp: int) -> Placement | None:
        """All layers on the GPU but the routed experts of the first N layers on the CPU."""
        w = self.w
        dense = sum(w.layer_bytes) + w.head_bytes + kv.total + comp
        for n in range(self.shape.n_layer + 1):
            vram = dense + sum(w.expert_bytes[n:])
            if vram <= self.vram_budget:
                ram = w.embd_bytes + sum(w.expert_bytes[:n])
                return Placement(self.shape.n_layer + 1, n, ram, vram, ram <= self.ram_budget)
        return None

    def _layer_split(self, kv: KvCache, comp: int) -> Placement:
        """The last N layers (weights and KV) on the GPU, the rest on the CPU."""
        w = self.w
        layer = [w.layer_bytes[i] + w.expert_bytes[i] + kv.layer_bytes[i] for i in range(self.shape.n_layer)]
        vram, n = comp, 0
        while n < len(layer) and vram + layer[-1 - n] <= self.vram_budget:
            vram += layer[-1 - n]
            n += 1
        if n == 0:
            ram = w.loaded_bytes + kv.total + comp
            return Placement(0, 0, ram, 0, ram <= self.ram_budget)
        ram = w.loaded_bytes + kv.total + comp - vram
        return Placement(n, 0, ram, vram, ram <= self.ram_budget)


def flash_attention(shape: ModelShape, n_ctx: int, kv_type: str) -> bool:
    """On: llama.cpp needs it for a quantised V cache, without it the attention-score buffer grows
    with n_ctx × n_ubatch × heads, and on CPU it is faster once the conversation grows (measured
    on 2 cores, 270M model, a 840-token turn at 17K tokens of context: 9.4 s without, 4.7 s with;
    no difference on a short prompt)."""
    return True


def _max_ctx(sizer: _Sizer, kv_type: str, cap: int) -> int:
    """The largest context (a multiple of 256, up to `cap`) that fits with `kv_type`; 0 if none."""
    lo, hi = 0, cap // 256
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sizer.place(mid * 256, kv_type).fits:
            lo = mid
        else:
            hi = mid - 1
    return lo * 256


def _choose(sizer: _Sizer, target: int, cap: int, req: FitRequest) -> tuple[int, str, list[str]]:
    kv_types = [req.kv_type] if req.kv_type else list(KV_TYPES)
    for kv_type in kv_types:
        if sizer.place(target, kv_type).fits:
            return target, kv_type, []
    if req.ctx_explicit:
        return target, kv_types[0], []
    # a shorter context before a 4-bit cache: f16 or q8_0, whichever holds more; q4_0 last
    for group in (kv_types[:2], kv_types[2:]):
        best = max(((_max_ctx(sizer, t, min(target, cap)), -i, t) for i, t in enumerate(group)), default=None)
        if best is not None and best[0] >= MIN_CTX:
            return best[0], best[2], [f"context lowered from {target} to {best[0]} tokens to fit"]
    return target, kv_types[0], []


def _suggestions(sizer: _Sizer, plan_ctx: int, kv_type: str) -> list[str]:
    """What would fit instead: a quantised KV cache, a shorter context, a smaller quantisation."""
    out = []
    for t in KV_TYPES[KV_TYPES.index(kv_type) + 1 :]:
        if sizer.place(plan_ctx, t).fits:
            out.append(f"--kv-type {t}")
            break
    for t in KV_TYPES:
        ctx = _max_ctx(sizer, t, plan_ctx)
        if ctx >= MIN_CTX:
            out.append(f"--ctx {ctx}" + (f" --kv-type {t}" if t != "f16" else ""))
            break
    if not out:
        out.extend(_smaller_quants(sizer, plan_ctx))
    return out


def _smaller_quants(sizer: _Sizer, n_ctx: int) -> list[str]:
    w = sizer.w
    ctx = min(n_ctx, 8192)
    extra = sizer.kv(ctx, "q8_0").total + sizer.compute(ctx, "q8_0")
    budget = sizer.ram_budget + sizer.vram_budget
    params = w.params * (w.loaded_bytes / max(w.file_bytes, 1))
    if w.loaded_bytes + extra <= budget:
        least = sizer.place(min(n_ctx, MIN_CTX), "q4_0")
        need = (least.ram + least.vram + OVERHEAD) / GB
        return [f"freeing memory (even --ctx {min(n_ctx, MIN_CTX)} --kv-type q4_0 needs {need:.1f} GB)"]
    for name, bpw in QUANT_BPW:
        size = int(params * bpw / 8)
        if size < w.loaded_bytes and size + extra <= budget:
            return [f"a smaller quantisation such as {name} (≈{size / GB:.0f} GB) with --ctx {ctx}"]
    name, bpw = QUANT_BPW[-1]
    smallest = (params * bpw / 8 + extra + OVERHEAD) / GB
    return [f"more memory: even {name} (≈{params * bpw / 8 / GB:.0f} GB of weights) needs ≈{smallest:.0f} GB"]


def _fitting_ubatch(model_shape_: ModelShape, w: Weights, hw: Hardware, req: FitRequest) -> FitRequest:
    """A smaller micro-batch when the logits/attention buffers are what does not fit."""
    cap = model_shape_.n_ctx_train or (req.n_ctx or 4096)
    target = min(req.n_ctx or cap, cap)
    trials = [req.model_copy(update={"n_ubatch": min(req.n_ubatch, n)}) for n in (req.n_ubatch, 256, 128)]
    wanted = ((min(target, 4 * MIN_CTX), KV_TYPES[:2]), (min(target, MIN_CTX), KV_TYPES))
    for n_ctx, kv_types in wanted:  # first a comfortable context with an 8-bit cache, then any
        for trial in trials:
            sizer = _Sizer(model_shape_, w, hw, trial)
            if any(sizer.place(n_ctx, t).fits for t in kv_types):
                return trial
    return req


def plan_fit(model: GGUFModel, hw: Hardware, req: FitRequest) -> FitPlan:
    shape = model_shape(model)
    w = weights(model, shape)
    req = _fitting_ubatch(shape, w, hw, req)
    sizer = _Sizer(shape, w, hw, req)
    cap = shape.n_ctx_train or (req.n_ctx or 4096)
    notes = [f"micro-batch lowered to {req.n_ubatch} tokens to fit"] if req.n_ubatch < 512 else []
    target = req.n_ctx or cap
    if target > cap:
        notes.append(f"context {target} is beyond the trained {cap} tokens: using {cap}")
        target = cap
    n_ctx, kv_type, chosen = _choose(sizer, target, cap, req)
    notes.extend(chosen)
    if kv_type != "f16" and req.kv_type is None:
        notes.append(f"KV cache quantised to {kv_type} to fit (flash attention on)")
    placed = sizer.place(n_ctx, kv_type)
    kv = sizer.kv(n_ctx, kv_type)
    needs_server = placed.n_cpu_moe > 0
    if needs_server:
        notes.append(
            f"keeps the routed experts of {placed.n_cpu_moe} layers in RAM: llama-server can "
            "(--n-cpu-moe), the embedded engine cannot; run llama-server and pass --base-url"
        )
    suggestions = [] if placed.fits else _suggestions(sizer, n_ctx, kv_type)
    return FitPlan(
        model=model.paths[0].name,
        architecture=shape.architecture,
        quant=quant_label(model, w),
        params=w.params,
        weights=w,
        shape=shape,
        hardware=hw,
        n_ctx=n_ctx,
        kv_type=kv_type,
        flash_attn=flash_attention(shape, n_ctx * req.parallel, kv_type),
        n_gpu_layers=placed.n_gpu_layers,
        n_cpu_moe=placed.n_cpu_moe,
        threads=hw.cores,
        threads_batch=hw.cpus,
        n_batch=max(512, req.n_ubatch),
        n_ubatch=req.n_ubatch,
        parallel=req.parallel,
        experts_used=req.experts_used,
        kv_bytes=kv.total,
        kv_by_type={t: sizer.kv(n_ctx, t).total for t in KV_TYPES},
        compute_bytes=sizer.compute(n_ctx, kv_type),
        ram_bytes=placed.ram,
        vram_bytes=placed.vram,
        fits=placed.fits,
        needs_server=needs_server,
        notes=notes,
        suggestions=suggestions,
    )
