"""Synthetic GGUF headers written with the `gguf` package's writer: real metadata and tensor tables
with declared shapes and types, and no weights (the data section is a sparse hole, so a 750 GB model
takes a few kilobytes of disk).

`glm5` follows GLM-5's published config (zai-org/GLM-5 config.json, as in transformers'
GlmMoeDsaConfig: hidden 6144, 78 layers + 1 MTP layer, 64 heads, q_lora_rank 2048, kv_lora_rank 512,
qk_nope/rope 192/64, v_head 256, 256 routed experts of 2048, 8 used, 1 shared, first 3 layers dense
with 12288, DSA indexer 32 heads x 128, vocab 154880, 202752 context) and the tensor table
llama.cpp's glm-dsa loader expects (src/models/glm-dsa.cpp).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

T = GGMLQuantizationType


@dataclass(frozen=True)
class Mix:
    """Tensor types: a default for 2-D weights, and the three routed-expert tensors."""

    default: T
    up_exps: T
    gate_exps: T
    down_exps: T

    def type_for(self, name: str, shape: tuple[int, ...]) -> T:
        if len(shape) == 1 or name.endswith(("ffn_gate_inp.weight", "_norm.weight", ".bias")):
            return T.F32
        chosen = self.default
        for suffix, kind in (
            ("up_exps", self.up_exps),
            ("gate_exps", self.gate_exps),
            ("down_exps", self.down_exps),
        ):
            if f"ffn_{suffix}." in name:
                chosen = kind
        block = GGML_QUANT_SIZES[chosen][0]
        return chosen if shape[0] % block == 0 else T.Q8_0  # llama-quantize's fallback for odd rows


def nbytes(kind: T, shape: tuple[int, ...]) -> int:
    block, size = GGML_QUANT_SIZES[kind]
    rows = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return shape[0] // block * size * rows


@dataclass(frozen=True)
class Glm5:
    n_embd: int = 6144
    n_layer: int = 78
    n_nextn: int = 1
    n_head: int = 64
    q_lora: int = 2048
    kv_lora: int = 512
    nope: int = 192
    rope: int = 64
    v_head: int = 256
    n_ff: int = 12288
    n_ff_exp: int = 2048
    n_expert: int = 256
    n_used: int = 8
    n_dense: int = 3
    idx_heads: int = 32
    idx_dim: int = 128
    n_vocab: int = 154880
    n_ctx: int = 202752


def glm5_tensors(c: Glm5) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape ne0-first) of every tensor, as llama.cpp's glm-dsa loader creates them."""
    out: list[tuple[str, tuple[int, ...]]] = [
        ("token_embd.weight", (c.n_embd, c.n_vocab)),
        ("output_norm.weight", (c.n_embd,)),
        ("output.weight", (c.n_embd, c.n_vocab)),
    ]
    k_mla = c.nope + c.rope
    for i in range(c.n_layer + c.n_nextn):
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", (c.n_embd,)),
            (b + "attn_q_a_norm.weight", (c.q_lora,)),
            (b + "attn_kv_a_norm.weight", (c.kv_lora,)),
            (b + "attn_q_a.weight", (c.n_embd, c.q_lora)),
            (b + "attn_q_b.weight", (c.q_lora, c.n_head * k_mla)),
            (b + "attn_kv_a_mqa.weight", (c.n_embd, c.kv_lora + c.rope)),
            (b + "attn_k_b.weight", (c.nope, c.kv_lora, c.n_head)),
            (b + "attn_v_b.weight", (c.kv_lora, c.v_head, c.n_head)),
            (b + "attn_output.weight", (c.n_head * c.v_head, c.n_embd)),
            (b + "ffn_norm.weight", (c.n_embd,)),
            (b + "indexer.k_norm.weight", (c.idx_dim,)),
            (b + "indexer.k_norm.bias", (c.idx_dim,)),
            (b + "indexer.proj.weight", (c.n_embd, c.idx_heads)),
            (b + "indexer.attn_k.weight", (c.n_embd, c.idx_dim)),
            (b + "indexer.attn_q_b.weight", (c.q_lora, c.idx_heads * c.idx_dim)),
        ]
        if i < c.n_dense:
            out += [
                (b + "ffn_gate.weight", (c.n_embd, c.n_ff)),
                (b + "ffn_down.weight", (c.n_ff, c.n_embd)),
                (b + "ffn_up.weight", (c.n_embd, c.n_ff)),
            ]
        else:
            out += [
                (b + "ffn_gate_inp.weight", (c.n_embd, c.n_expert)),
                (b + "exp_probs_b.bias", (c.n_expert,)),
                (b + "ffn_gate_exps.weight", (c.n_embd, c.n_ff_exp, c.n_expert)),
                (b + "ffn_down_exps.weight", (c.n_ff_exp, c.n_embd, c.n_expert)),
                (b + "ffn_up_exps.weight", (c.n_embd, c.n_ff_exp, c.n_expert)),
                (b + "ffn_gate_shexp.weight", (c.n_embd, c.n_ff_exp)),
                (b + "ffn_down_shexp.weight", (c.n_ff_exp, c.n_embd)),
                (b + "ffn_up_shexp.weight", (c.n_embd, c.n_ff_exp)),
            ]
        if i >= c.n_layer:
            out += [
                (b + "nextn.eh_proj.weight", (2 * c.n_embd, c.n_embd)),
                (b + "nextn.enorm.weight", (c.n_embd,)),
                (b + "nextn.hnorm.weight", (c.n_embd,)),
                (b + "nextn.shared_head_norm.weight", (c.n_embd,)),
            ]
    return out


def glm5_metadata(w: GGUFWriter, c: Glm5, mla: bool = True) -> None:
    a = "glm-dsa"
    w.add_uint32(f"{a}.block_count", c.n_layer + c.n_nextn)
    w.add_uint32(f"{a}.nextn_predict_layers", c.n_nextn)
    w.add_uint32(f"{a}.context_length", c.n_ctx)
    w.add_uint32(f"{a}.embedding_length", c.n_embd)
    w.add_uint32(f"{a}.feed_forward_length", c.n_ff)
    w.add_uint32(f"{a}.vocab_size", c.n_vocab)
    w.add_uint32(f"{a}.attention.head_count", c.n_head)
    w.add_uint32(f"{a}.attention.q_lora_rank", c.q_lora)
    w.add_uint32(f"{a}.rope.dimension_count", c.rope)
    w.add_uint32(f"{a}.expert_count", c.n_expert)
    w.add_uint32(f"{a}.expert_used_count", c.n_used)
    w.add_uint32(f"{a}.expert_shared_count", 1)
    w.add_uint32(f"{a}.expert_feed_forward_length", c.n_ff_exp)
    w.add_uint32(f"{a}.leading_dense_block_count", c.n_dense)
    if mla:  # how llama.cpp's converter writes DeepSeek-style MLA: one latent "KV head"
        w.add_uint32(f"{a}.attention.head_count_kv", 1)
        w.add_uint32(f"{a}.attention.key_length", c.kv_lora + c.rope)
        w.add_uint32(f"{a}.attention.value_length", c.kv_lora)
        w.add_uint32(f"{a}.attention.key_length_mla", c.nope + c.rope)
        w.add_uint32(f"{a}.attention.value_length_mla", c.v_head)
        w.add_uint32(f"{a}.attention.kv_lora_rank", c.kv_lora)
        w.add_uint32(f"{a}.attention.indexer.head_count", c.idx_heads)
        w.add_uint32(f"{a}.attention.indexer.key_length", c.idx_dim)
        w.add_uint32(f"{a}.attention.indexer.top_k", 2048)
    else:  # the same model described as plain multi-head attention after decompression
        w.add_uint32(f"{a}.attention.head_count_kv", c.n_head)
        w.add_uint32(f"{a}.attention.key_length", c.nope + c.rope)
        w.add_uint32(f"{a}.attention.value_length", c.v_head)


def write_header(
    path: Path,
    arch: str,
    metadata: Callable[[GGUFWriter], None],
    tensors: Sequence[tuple[str, tuple[int, ...], T]],
    file_type: int | None = None,
) -> Path:
    """A GGUF whose tensor table declares `tensors`; the data section is left as a sparse hole."""
    w = GGUFWriter(path, arch)
    metadata(w)
    if file_type is not None:
        w.add_file_type(file_type)
    data = 0
    for name, shape, kind in tensors:
        size = nbytes(kind, shape)
        w.add_tensor_info(name, tuple(reversed(shape)), np.dtype(np.float32), size, raw_dtype=kind)
        data += GGUFWriter.ggml_pad(size, w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    header = path.stat().st_size
    os.truncate(path, GGUFWriter.ggml_pad(header, w.data_alignment) + data)
    return path


def glm5_file(path: Path, mix: Mix, config: Glm5 = Glm5(), mla: bool = True, file_type: int = 15) -> Path:
    tensors = [(name, shape, mix.type_for(name, shape)) for name, shape in glm5_tensors(config)]
    return write_header(path, "glm-dsa", lambda w: glm5_metadata(w, config, mla), tensors, file_type)


# Published file sizes of GLM-5.1 GGUFs (GLM-5.1 is GLM-5 retrained: same glm-dsa shapes, 754B):
#  - ubergarm/GLM-5.1-GGUF README: "BF16 1404.406 GiB (16.003 BPW)", "Q8_0 746.302 GiB (8.504 BPW)"
#  - AesSedai/GLM-5.1-GGUF README, "Quant / Size / Mixture (default / ffn_up / ffn_gate / ffn_down)":
#    "Q4_K_M 432.80 GiB (4.93 BPW) Q8_0 / Q4_K / Q4_K / Q5_K",
#    "IQ3_S 259.89 GiB (2.96 BPW) Q6_K / IQ2_S / IQ2_S / IQ3_S"
PUBLISHED = {
    "BF16": (Mix(T.BF16, T.BF16, T.BF16, T.BF16), 1404.406),
    "Q8_0": (Mix(T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0), 746.302),
    "Q4_K_M": (Mix(T.Q8_0, T.Q4_K, T.Q4_K, T.Q5_K), 432.80),
    "IQ3_S": (Mix(T.Q6_K, T.IQ2_S, T.IQ2_S, T.IQ3_S), 259.89),
}
