"""GGUF files already on this machine: the agent's model folder, configured `model_dirs`, and the
Hugging Face cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`).

Hidden folders (our `.downloads/` staging, the hub client's `.cache/`) are skipped, so nothing
half-downloaded is listed; a split model is listed once, by its first shard, with its total size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

from agent.models.estimate import weights
from agent.models.fit import quant_label
from agent.models.gguf_file import SHARD, GGUFError, read_model
from agent.models.shape import model_shape


class LocalModel(BaseModel):
    path: str
    name: str
    size: int
    shards: int = 1
    architecture: str | None = None
    quant: str | None = None
    context_length: int | None = None
    params: int | None = None
    error: str | None = None


def hf_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    home = Path(env["HF_HOME"]).expanduser() if env.get("HF_HOME") else Path.home() / ".cache" / "huggingface"
    return home / "hub"


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".gguf") and not name.startswith("."):
                yield Path(folder) / name


def _first_shards(paths: Iterable[Path]) -> list[Path]:
    chosen = []
    for path in paths:
        match = SHARD.match(path.name)
        if match is None or int(match["index"]) == 1:
            chosen.append(path)
    return chosen


def describe(path: Path) -> LocalModel:
    try:
        model = read_model(path)
    except (GGUFError, OSError) as exc:
        return LocalModel(path=str(path), name=path.name, size=_size(path), error=str(exc))
    shape = model_shape(model)
    return LocalModel(
        path=str(path),
        name=path.name,
        size=model.file_size,
        shards=len(model.paths),
        architecture=model.architecture,
        quant=quant_label(model, weights(model, shape)),
        context_length=shape.n_ctx_train or None,
        params=sum(t.n_elements for t in model.tensors),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def find_local_models(dirs: Iterable[Path]) -> list[LocalModel]:
    """Every GGUF model under `dirs` (each file once, even when reached through symlinks)."""
    seen: set[Path] = set()
    found = []
    for root in dirs:
        if not root.is_dir():
            continue
        for path in _first_shards(_walk(root)):
            real = path.resolve()
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            found.append(describe(path))
    return found
