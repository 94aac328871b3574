"""Loading a GGUF into llama-cpp-python, with this machine's CPU topology (threads per core)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.engines.base import EngineError


def usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int]) -> int:
    """Distinct physical cores among `cpus` (hyper-threads share one); decode is memory-bound."""
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/core_cpus_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def load_llama(
    path: Path | str,
    n_ctx: int = 16384,
    n_threads: int | None = None,
    verbose: bool = False,
    *,
    n_threads_batch: int | None = None,
    n_batch: int = 512,
    n_ubatch: int = 512,
    n_gpu_layers: int = 0,
    flash_attn: bool = True,
    type_k: int | None = None,
    type_v: int | None = None,
    kv_overrides: dict[str, bool | int | float | str] | None = None,
) -> Any:
    """Load a GGUF with llama-cpp-python; failures become an `EngineError` naming the fix.

    Decoding uses one thread per physical core (llama-cpp-python's default, half the CPUs, is a
    single thread on a 2-CPU machine); prompt evaluation uses every CPU this process may run on.
    The keyword arguments are what `agent.models.load_plan.LoadPlan.load_kwargs` recommends: a
    quantised V cache (`type_v`) needs `flash_attn=True`; `kv_overrides` carries GGUF metadata
    overrides such as `{"<arch>.expert_used_count": N}`.
    """
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise EngineError("llama-cpp-python is not installed: pip install llama-cpp-python") from exc
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"model file not found: {path}; run `agent models pull` or pass --model PATH")
    cpus = usable_cpus()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or physical_cores(cpus),
            n_threads_batch=n_threads_batch or n_threads or len(cpus),
            n_batch=n_batch,
            n_ubatch=n_ubatch,
            n_gpu_layers=n_gpu_layers,
            flash_attn=flash_attn,
            type_k=type_k,
            type_v=type_v,
            kv_overrides=kv_overrides or None,
            logits_all=False,
            verbose=verbose,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineError(_load_fix(path, n_ctx, exc)) from exc


def _load_fix(path: Path, n_ctx: int, exc: Exception) -> str:
    if "context" in str(exc).lower():
        return (
            f"llama.cpp loaded {path.name} but could not allocate a {n_ctx}-token context ({exc}); "
            "lower --ctx"
        )
    return (
        f"llama.cpp could not load {path.name} ({exc}); check that it is a complete GGUF file "
        "(re-download it with `agent models pull`) for an architecture this llama-cpp-python supports"
    )
