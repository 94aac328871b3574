"""A model's shape as llama.cpp derives it from GGUF metadata: layers, heads, attention kind, experts.

Defaults follow llama.cpp's loader (`llama_model::load_hparams`): head_count_kv defaults to
head_count, key/value lengths to n_embd / n_head, NextN (MTP) layers hold no KV cache in the main
context, and MLA (`attention.key_length_mla` present) caches one compressed K row per token and no V.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from agent.models.gguf_file import ArrayInfo, GGUFModel

# Architectures whose sliding-window layer pattern llama.cpp hard-codes when the GGUF has no
# `attention.sliding_window_pattern`: (period, dense_first) as passed to `load_swa_pattern`.
SWA_PATTERNS: dict[str, tuple[int, bool]] = {
    "gemma2": (2, False),
    "gemma3": (6, False),
    "gemma3n": (5, False),
    "gpt-oss": (2, False),
    "cohere2": (4, False),
    "llama4": (4, False),
    "exaone4": (4, False),
    "olmo2": (4, False),
    "afmoe": (4, False),
    "smallthinker": (4, True),
}

Attention = Literal["standard", "mla"]


class ModelShape(BaseModel):
    architecture: str
    n_layer: int  # layers of the trunk (block_count minus NextN/MTP layers)
    n_layer_nextn: int = 0
    n_ctx_train: int
    n_embd: int
    n_vocab: int
    n_ff: int = 0
    n_head: list[int]
    n_head_kv: list[int]
    head_k: int
    head_v: int
    attention: Attention = "standard"
    kv_lora_rank: int = 0
    head_k_mla: int = 0  # per-head K/V sizes after MLA decompression (published shapes)
    head_v_mla: int = 0
    q_lora_rank: int = 0
    sliding_window: int = 0
    swa_layers: list[bool] = []
    indexer_heads: int = 0  # DeepSeek sparse attention (lightning indexer)
    indexer_head_size: int = 0
    indexer_full_layers: list[bool] = []
    n_expert: int = 0
    n_expert_used: int = 0
    n_expert_shared: int = 0
    n_ff_exp: int = 0
    leading_dense: int = 0

    @property
    def is_moe(self) -> bool:
        return self.n_expert > 0

    def k_width(self, layer: int) -> int:
        """Elements of K cached per token in `layer` (all KV heads)."""
        return self.n_head_kv[layer] * self.head_k

    def v_width(self, layer: int) -> int:
        return 0 if self.attention == "mla" else self.n_head_kv[layer] * self.head_v


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, list):
        return int(max(value)) if value else default
    return int(value) if isinstance(value, (int, float)) else default


def _per_layer(value: Any, n: int, default: int) -> list[int]:
    if isinstance(value, list) and value:
        return [int(v) for v in value[:n]] + [int(value[-1])] * max(0, n - len(value))
    return [_int(value, default)] * n


def _vocab(model: GGUFModel) -> int:
    explicit = model.get("vocab_size")
    if explicit:
        return _int(explicit)
    tokens = model.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, ArrayInfo):
        return tokens.length
    if isinstance(tokens, list):
        return len(tokens)
    embd = next((t for t in model.tensors if t.name == "token_embd.weight"), None)
    return embd.shape[1] if embd is not None and len(embd.shape) > 1 else 0


def _swa_layers(model: GGUFModel, n_layer: int) -> list[bool]:
    if not model.get("attention.sliding_window"):
        return [False] * n_layer
    pattern = model.get("attention.sliding_window_pattern")
    if isinstance(pattern, list) and pattern:
        return [bool(v) for v in pattern[:n_layer]] + [False] * max(0, n_layer - len(pattern))
    period, dense_first = SWA_PATTERNS.get(model.architecture, (_int(pattern), False))
    if period == 0:
        return [True] * n_layer
    if dense_first:
        return [i % period != 0 for i in range(n_layer)]
    return [i % period < period - 1 for i in range(n_layer)]


def _indexer_layers(model: GGUFModel, n_layer: int, n_ctx_train: int) -> list[bool]:
    if not model.get("attention.indexer.head_count"):
        return [False] * n_layer
    types = model.get("attention.indexer.types")
    if isinstance(types, list) and types:
        return [bool(v) for v in types[:n_layer]] + [False] * max(0, n_layer - len(types))
    if model.architecture == "glm-dsa" and n_ctx_train >= 1_048_576:  # GLM-5.2: every 4th layer
        return [i < 2 or (i - 2) % 4 == 0 for i in range(n_layer)]
    return [True] * n_layer


def model_shape(model: GGUFModel) -> ModelShape:
    """The shape of `model`, from its metadata (and its tensor table where metadata is silent)."""
    n_all = _int(model.get("block_count"))
    nextn = _int(model.get("nextn_predict_layers"))
    n_layer = n_all - nextn
    n_embd = _int(model.get("embedding_length"))
    heads = _per_layer(model.get("attention.head_count"), n_all, 0)
    head0 = max(heads) if heads else 0
    kv_heads = _per_layer(model.get("attention.head_count_kv", heads), n_all, head0)
    default_head = n_embd // head0 if head0 else 0
    n_ctx_train = _int(model.get("context_length"))
    mla = bool(model.get("attention.key_length_mla"))
    return ModelShape(
        architecture=model.architecture,
        n_layer=n_layer,
        n_layer_nextn=nextn,
        n_ctx_train=n_ctx_train,
        n_embd=n_embd,
        n_vocab=_vocab(model),
        n_ff=_int(model.get("feed_forward_length")),
        n_head=heads,
        n_head_kv=kv_heads,
        head_k=_int(model.get("attention.key_length"), default_head),
        head_v=_int(model.get("attention.value_length"), default_head),
        attention="mla" if mla else "standard",
        kv_lora_rank=_int(model.get("attention.kv_lora_rank")),
        head_k_mla=_int(model.get("attention.key_length_mla")),
        head_v_mla=_int(model.get("attention.value_length_mla")),
        q_lora_rank=_int(model.get("attention.q_lora_rank")),
        sliding_window=_int(model.get("attention.sliding_window")),
        swa_layers=_swa_layers(model, n_layer),
        indexer_heads=_int(model.get("attention.indexer.head_count")),
        indexer_head_size=_int(model.get("attention.indexer.key_length")),
        indexer_full_layers=_indexer_layers(model, n_layer, n_ctx_train),
        n_expert=_int(model.get("expert_count")),
        n_expert_used=_int(model.get("expert_used_count")),
        n_expert_shared=_int(model.get("expert_shared_count")),
        n_ff_exp=_int(model.get("expert_feed_forward_length")),
        leading_dense=_int(model.get("leading_dense_block_count")),
    )
