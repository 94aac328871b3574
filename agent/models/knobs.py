"""Per-model knobs: thinking effort, experts used per token, KV cache type, context, parallel sequences.

Set at the top level of a config file (every model), in a `[models."<pattern>"]` table (models whose
file name or catalogue name matches the glob, case-insensitive), or by flags. Flags win, then the
matching model table, then the top level.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Thinking = Literal["off", "high", "max"]
KvCacheType = Literal["f16", "q8_0", "q4_0"]
KNOB_KEYS = ("n_ctx", "threads", "thinking", "experts_used", "kv_cache_type", "parallel")


class ModelKnobs(BaseModel):
    """Knobs for one model; unset ones fall back to the top-level config, then to recommendations."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    n_ctx: int | None = Field(default=None, ge=256)
    """Context window in tokens."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads."""
    thinking: Thinking | None = None
    """Thinking effort: off, high or max (None: the model's own default)."""
    experts_used: int | None = Field(default=None, ge=1)
    """MoE: routed experts per token."""
    kv_cache_type: KvCacheType | None = None
    """KV cache type (None: f16, quantised only when f16 does not fit)."""
    parallel: int | None = Field(default=None, ge=1)
    """Sequences decoded together (servers)."""


class ResolvedKnobs(ModelKnobs):
    explicit: frozenset[str] = frozenset()  # knobs the user set (config or flag), not defaults


def matches(pattern: str, name: str) -> bool:
    name, pattern = name.lower(), pattern.lower()
    stem = name.removesuffix(".gguf")
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(stem, pattern)


def resolve_knobs(
    top: ModelKnobs,
    top_set: set[str],
    tables: dict[str, ModelKnobs],
    flags: set[str],
    names: list[str],
) -> ResolvedKnobs:
    """Flags > first matching `[models."pattern"]` tables (in file order) > top-level settings."""
    values = {k: getattr(top, k) for k in KNOB_KEYS if k in top_set and k not in flags}
    explicit = set(values) | (flags & set(KNOB_KEYS))
    for pattern, table in tables.items():
        if any(matches(pattern, n) for n in names):
            chosen = {k: v for k, v in table.model_dump(exclude_unset=True).items() if k not in flags}
            values.update(chosen)
            explicit |= set(chosen)
    values.update({k: getattr(top, k) for k in flags & set(KNOB_KEYS)})
    return ResolvedKnobs(**values, explicit=frozenset(explicit))
