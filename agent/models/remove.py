"""`agent models rm NAME`: which files in the model directory a name stands for, and removing them.

Only what `agent models pull` put in the model directory (`model_cache_dir`) is ever removed: a
catalogue model's GGUF, a hub model's files (`hub/OWNER--REPO/`), or a GGUF there named by its file
name, each with its `.sha256` record and, for a split model, every shard. Files in `model_dirs` or the
Hugging Face cache are the user's, and are not touched.
"""

from __future__ import annotations

from pathlib import Path

from agent.models.cache import ModelInstallError, sidecar
from agent.models.catalogue import find_entry
from agent.models.gguf_file import SHARD


class NotDownloaded(ModelInstallError):
    """The name stands for nothing in the model directory."""


def _with_records(paths: list[Path]) -> list[Path]:
    return sorted({*paths, *(sidecar(p) for p in paths if sidecar(p).is_file())})


def _shards_of(path: Path) -> list[Path]:
    match = SHARD.match(path.name)
    if match is None:
        return [path]
    return sorted(path.parent.glob(f"{match['prefix']}-*-of-{match['count']}.gguf"))


def _ggufs(model_dir: Path) -> list[Path]:
    found = model_dir.rglob("*.gguf")
    return [p for p in found if not any(s.startswith(".") for s in p.relative_to(model_dir).parts)]


def files_for(name: str, model_dir: Path) -> list[Path]:
    """The files `name` stands for in `model_dir` (GGUFs and their records); `NotDownloaded` if none."""
    entry = find_entry(name)
    if entry is not None:
        found = [model_dir / entry.file_name] if (model_dir / entry.file_name).is_file() else []
    elif "/" in name and ":" not in name:  # OWNER/REPO from `agent models pull OWNER/REPO`
        folder = model_dir / "hub" / name.replace("/", "--")
        found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
    else:
        wanted = name if name.endswith(".gguf") else f"{name}.gguf"
        found = [shard for p in _ggufs(model_dir) if p.name == wanted for shard in _shards_of(p)]
    if not found:
        raise NotDownloaded(
            f"{name!r} is not downloaded in {model_dir}: `agent models list` shows what is; "
            "give a catalogue name, OWNER/REPO, or a GGUF file name from that folder"
        )
    return _with_records(found)


def remove_files(paths: list[Path], model_dir: Path) -> None:
    """Delete `paths`, and a hub folder left empty."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {p.parent for p in paths}:
        if folder != model_dir and folder.is_relative_to(model_dir) and not any(folder.iterdir()):
            folder.rmdir()
