"""Building the engine a run uses, by configuration. Backends are imported lazily."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.engine import Engine, EngineError
from agent.model_resolution import resolve_model

Say = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_engine(config: AgentConfig, script: Path | None = None, say: Say = _stderr) -> Engine:
    """The scripted engine for a script, the HTTP engine for a base URL, else the embedded one."""
    if script is not None:
        from agent.engines.scripted import ScriptedEngine

        return ScriptedEngine.from_file(script)
    if config.base_url:
        return _build_openai(config)
    return _build_llamacpp(config, say)


def _build_openai(config: AgentConfig) -> Engine:
    import httpx

    from agent.engines.openai_compat import OpenAICompatEngine

    client = httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))
    return OpenAICompatEngine(
        client=client,
        base_url=config.base_url or "",
        model=config.server_model,
        api_key=os.environ.get(config.api_key_env),
        context_length=config.n_ctx,
        thinking=config.knobs_for(config.server_model).thinking,
        tool_format=config.tool_format,
    )


def _build_llamacpp(config: AgentConfig, say: Say) -> Engine:
    from agent.engines.llamacpp import LlamaCppEngine, load_llama
    from agent.engines.prefix_cache import PrefixCache
    from agent.models.cache import model_cache_dir

    resolved = resolve_model(None, config.model)
    if resolved.warning:
        say(f"warning: {resolved.warning}")
    size_gb = resolved.path.stat().st_size / 1e9
    kwargs = load_settings(config, resolved.path, say)
    say(f"loading {resolved.path.name} ({size_gb:.2f} GB, from {resolved.source}) ...")
    started = time.monotonic()
    llama = load_llama(resolved.path, **kwargs)
    say(f"model loaded in {time.monotonic() - started:.1f}s")
    thinking = config.knobs_for(resolved.path.name, config.model or "").thinking
    prefix_cache = PrefixCache(model_cache_dir() / "prompt-cache", llama) if config.prompt_cache else None
    return LlamaCppEngine(
        llama=llama,
        model_name=resolved.path.name,
        thinking=thinking,
        tool_format=config.tool_format,
        prefix_cache=prefix_cache,
        speculative=config.speculative != "off",
    )


def load_settings(config: AgentConfig, path: Path, say: Say) -> dict[str, Any]:
    """The memory check and recommended settings (agent.models.load_plan) as load_llama arguments."""
    knobs = config.knobs_for(path.name, config.model or "")
    plain = {"n_ctx": knobs.n_ctx or config.n_ctx, "n_threads": knobs.threads}
    if not config.fit_check:
        return plain
    from agent.models.gguf_file import GGUFError
    from agent.models.load_plan import ModelDoesNotFit, plan_load

    try:
        plan = plan_load(path, knobs, default_ctx=config.n_ctx, gpu_offload=_gpu_offload())
    except ModelDoesNotFit as exc:
        raise EngineError(str(exc)) from exc
    except GGUFError as exc:
        say(f"warning: {exc}; loading without a memory check")
        return plain
    say(plan.summary)
    return plan.load_kwargs()


def _gpu_offload() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())
