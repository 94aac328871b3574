"""The engines: one Protocol (base.py: `Engine`, `ChatOptions`, `EngineError`) and its backends by
short name. agent/build.py (the composition root) picks the backend for a config and builds it
through this registry; nothing else constructs an engine (tests/test_build.py checks the source).
A backend's module, with its bindings (llama.cpp, httpx), is imported only when it is built.

- `llamacpp`: the embedded engine, a GGUF resident in this process (llamacpp.py; llama_load.py
  loads it);
- `openai`: an OpenAI-compatible server (openai_compat.py);
- `scripted`: a replay of scripted turns, for tests and demos (scripted.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.engines.base import Engine

if TYPE_CHECKING:
    import httpx

    from agent.engines.prefix_cache import PrefixCache
    from agent.engines.turn import ThinkingEffort

Backend = Literal["llamacpp", "openai", "scripted"]
BACKENDS: tuple[Backend, ...] = ("llamacpp", "openai", "scripted")


def backend_for(script: Path | None, base_url: str | None) -> Backend:
    """The scripted engine for a script, the HTTP engine for a base URL, else the embedded one."""
    if script is not None:
        return "scripted"
    return "openai" if base_url else "llamacpp"


def llamacpp(
    llama: Any,
    model_name: str,
    thinking: ThinkingEffort | None = None,
    tool_format: str | None = None,
    prefix_cache: PrefixCache | None = None,
    speculative: bool = True,
) -> Engine:
    """The embedded engine on a loaded model (llama_load.py `load_llama`); `speculative`:
    prompt-lookup drafts verified exactly (speculative.py)."""
    from agent.engines.llamacpp import LlamaCppEngine

    return LlamaCppEngine(
        llama=llama,
        model_name=model_name,
        thinking=thinking,
        tool_format=tool_format,
        prefix_cache=prefix_cache,
        speculative=speculative,
    )


def openai(
    client: httpx.Client,
    base_url: str,
    model: str = "",
    api_key: str | None = None,
    context_length: int = 32768,
    thinking: ThinkingEffort | None = None,
    tool_format: str | None = None,
) -> Engine:
    """An OpenAI-compatible server through `client`."""
    from agent.engines.openai_compat import OpenAICompatEngine

    return OpenAICompatEngine(
        client=client,
        base_url=base_url,
        model=model,
        api_key=api_key,
        context_length=context_length,
        thinking=thinking,
        tool_format=tool_format,
    )


def scripted(script: Path) -> Engine:
    """A replay of the turns in a JSON script (`--script FILE.json`)."""
    from agent.engines.scripted import ScriptedEngine

    return ScriptedEngine.from_file(script)
