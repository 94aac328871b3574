"""Memory a GGUF model needs in llama.cpp: weights, KV cache and compute buffers.

The KV figures follow llama.cpp's own allocation (`llama_kv_cache` in the llama.cpp that
llama-cpp-python 0.3.x vendors): the context is padded to 256 cells; each trunk layer caches
`n_head_kv * key_length` K elements and as many V elements per cell, in the cache type's row size;
MLA layers cache only K (the compressed latent plus the RoPE part); DeepSeek-sparse-attention models
add one indexer key row per cell on their indexer layers; sliding-window layers keep
`n_swa + n_ubatch` cells unless the full-size SWA cache is used (llama-cpp-python's default).
Compute buffers are an estimate of the largest phase of one micro-batch (logits, attention scores
without flash attention, FFN activations); see tests/models/test_fit.py for how close they come.
"""

from __future__ import annotations

import re
from collections import defaultdict

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
from pydantic import BaseModel

from agent.models.gguf_file import GGUFModel
from agent.models.shape import ModelShape

KV_TYPES = ("f16", "q8_0", "q4_0")
CELL_PAD = 256
EXPERT_TENSOR = re.compile(r"^blk\.(\d+)\.ffn_(?:up|gate|down|gate_up)_exps\.")
LAYER_TENSOR = re.compile(r"^blk\.(\d+)\.")


def row_bytes(type_name: str, width: int) -> int:
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name.upper()]]
    return -(-width // block) * size


def pad(value: int, multiple: int = CELL_PAD) -> int:
    return -(-value // multiple) * multiple


class Weights(BaseModel):
    file_bytes: int  # all tensors in the file(s)
    loaded_bytes: int  # what llama.cpp loads: NextN/MTP layers are skipped unless used for drafting
    params: int
    by_type: dict[str, int]  # tensor type -> bytes
    expert_bytes: list[int]  # per trunk layer: routed-expert tensors (what --n-cpu-moe moves)
    layer_bytes: list[int]  # per trunk layer: everything else in the layer
    embd_bytes: int  # token embeddings (llama.cpp keeps them on the CPU)
    head_bytes: int  # output head and final norm


def weights(model: GGUFModel, shape: ModelShape) -> Weights:
    by_type: dict[str, int] = defaultdict(int)
    experts = [0] * shape.n_layer
    layers = [0] * shape.n_layer
    embd = head = skipped = 0
    for tensor in model.tensors:
        by_type[tensor.type_name] += tensor.n_bytes
        match = LAYER_TENSOR.match(tensor.name)
        if match is None:
            if tensor.name.startswith("token_embd"):
                embd += tensor.n_bytes
            else:
                head += tensor.n_bytes
            continue
        layer = int(match[1])
        if layer >= shape.n_layer:
            skipped += tensor.n_bytes
        elif EXPERT_TENSOR.match(tensor.name):
            experts[layer] += tensor.n_bytes
        else:
            layers[layer] += tensor.n_bytes
    total = sum(by_type.values())
    return Weights(
        file_bytes=total,
        loaded_bytes=total - skipped,
        params=sum(t.n_elements for t in model.tensors),
        by_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        expert_bytes=experts,
        layer_bytes=layers,
        embd_bytes=embd,
        head_bytes=head,
    )


class KvCache(BaseModel):
    type: str
    n_ctx: int  # padded, all sequences together
    cells: int  # per sequence stream, full-attention layers
    swa_cells: int
    k_bytes: int
    v_bytes: int
    indexer_bytes: int
    layer_bytes: list[int]  # per trunk layer (K + V + indexer)

    @property
    def total(self) -> int:
        return self.k_bytes + self.v_bytes + self.indexer_bytes


def kv_cache(
    shape: ModelShape,
    n_ctx: int,
    kv_type: str = "f16",
    n_seq: int = 1,
    swa_full: bool = True,
    n_ubatch: int = 512,
) -> KvCache:
    """The KV cache llama.cpp allocates for `n_ctx` tokens shared by `n_seq` sequences."""
    ctx = pad(max(n_ctx, 1))
    cells = ctx if n_seq == 1 else pad(ctx // n_seq)
    swa_cells = cells if swa_full else min(cells, pad(shape.sliding_window + n_ubatch))
    k = v = idx = 0
    per_layer = []
    for layer in range(shape.n_layer):
        n = (swa_cells if shape.swa_layers[layer] else cells) * n_seq
        lk = row_bytes(kv_type, shape.k_width(layer)) * n
        lv = row_bytes(kv_type, shape.v_width(layer)) * n if shape.v_width(layer) else 0
        li = row_bytes(kv_type, shape.indexer_head_size) * n if _indexed(shape, layer) else 0
        k, v, idx = k + lk, v + lv, idx + li
        per_layer.append(lk + lv + li)
    return KvCache(
        type=kv_type,
        n_ctx=cells * n_seq,
        cells=cells,
        swa_cells=swa_cells,
        k_bytes=k,
        v_bytes=v,
        indexer_bytes=idx,
        layer_bytes=per_layer,
    )


def _indexed(shape: ModelShape, layer: int) -> bool:
    return (
        bool(shape.indexer_head_size)
        and layer < len(shape.indexer_full_layers)
        and (shape.indexer_full_layers[layer])
    )


def kv_bytes_per_token(shape: ModelShape, kv_type: str = "f16") -> float:
    """KV bytes each extra token of context costs (full-size SWA cache)."""
    return kv_cache(shape, 1 << 16, kv_type).total / (1 << 16)


def compute_buffer(
    shape: ModelShape,
    n_ctx: int,
    n_ubatch: int = 512,
    flash_attn: bool = False,
    n_seq: int = 1,
    experts_used: int | None = None,
) -> int:
    """Estimated CPU compute buffer for one micro-batch: the largest of three graph phases."""
    f32 = 4
    n_kv = pad(max(n_ctx, 1))
    heads = max(shape.n_head) if shape.n_head else 0
    used = experts_used or shape.n_expert_used
    ff = max(shape.n_ff, used * shape.n_ff_exp + shape.n_expert_shared * shape.n_ff_exp)
    hidden = n_ubatch * shape.n_embd * f32
    logits = shape.n_vocab * n_ubatch * f32 + 2 * hidden
    ffn = 2 * hidden + 3 * n_ubatch * ff * f32
    qkv = 3 * n_ubatch * heads * max(shape.head_k, shape.head_k_mla) * f32
    scores = n_kv * n_ubatch * (2 if flash_attn else (heads + 1) * f32)
    attention = qkv + hidden + scores
    output = shape.n_vocab * f32 * n_seq
    return max(logits, ffn, attention) + output
