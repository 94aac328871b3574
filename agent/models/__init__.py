"""Model installation: the built-in catalogue, assembled from package-index parts or downloaded.

`pull` installs a catalogue model with whichever source is available; `default_model_path` is
what `agent fix` loads when no model is configured.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.models.cache import ModelInstallError, is_verified, model_cache_dir
from agent.models.catalogue import CATALOGUE, CatalogueEntry, HubSource, PyPIPartsSource, find_entry
from agent.progress import Bar, Progress

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "HubSource",
    "ModelInstallError",
    "Progress",
    "PyPIPartsSource",
    "catalogue_model_path",
    "default_model_path",
    "find_entry",
    "installed_path",
    "model_cache_dir",
    "pull",
]


def installed_path(entry: CatalogueEntry, cache_dir: Path) -> Path | None:
    """The installed file: present, verified at install time, and of the pinned size."""
    path = cache_dir / entry.file_name
    return path if is_verified(path, entry.pinned()) else None


def _parts_source(entry: CatalogueEntry) -> PyPIPartsSource | None:
    return next((s for s in entry.sources if isinstance(s, PyPIPartsSource)), None)


def _hub_source(entry: CatalogueEntry) -> HubSource | None:
    return next((s for s in entry.sources if isinstance(s, HubSource)), None)


def _parts_problem(source: PyPIPartsSource, search_path: Sequence[str] | None) -> str | None:
    """Why the PyPI parts cannot be used (None when all are installed)."""
    from agent.models.pypi_parts import missing_parts

    missing = missing_parts(source, search_path)
    if not missing:
        return None
    if len(missing) == len(source.packages):
        return f"the model packages are not installed: run {source.pip_command}"
    return f"model packages {', '.join(missing)} are missing: run {source.pip_command}"


def _download(entry: CatalogueEntry, target: Path, progress: Progress, env: Mapping[str, str]) -> Path:
    import httpx

    from agent.models.download import download

    source = _hub_source(entry)
    if source is None:
        raise ModelInstallError(f"{entry.name} has no download source")
    try:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0)) as client:
            return download(source, target, client, progress, env)
    except httpx.HTTPError as exc:
        raise ModelInstallError(f"download from the hub failed: {exc}") from exc


def pull(
    name: str,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    *,
    search_path: Sequence[str] | None = None,
    catalogue: tuple[CatalogueEntry, ...] = CATALOGUE,
    use_hub: bool = True,
    env: Mapping[str, str] = os.environ,
) -> Path:
    """Install a catalogue model (a no-op when it is installed) and return its path.

    Installed PyPI part packages are assembled; otherwise the file is downloaded from the hub.
    Corrupt or foreign bytes are refused, never fallen back from.
    """
    entry = find_entry(name, catalogue)
    if entry is None:
        known = ", ".join(e.name for e in catalogue)
        raise ModelInstallError(f"no catalogue model named {name!r}; known models: {known}")
    cache_dir = cache_dir or model_cache_dir(env)
    existing = installed_path(entry, cache_dir)
    if existing is not None:
        return existing
    progress = progress or Bar(f"installing {entry.name}", unit="bytes")
    target = cache_dir / entry.file_name
    parts = _parts_source(entry)
    problem = _parts_problem(parts, search_path) if parts else f"{entry.name} has no PyPI parts"
    if parts is not None and problem is None:
        from agent.models.pypi_parts import assemble

        return assemble(parts, target, progress, search_path)
    if not use_hub or _hub_source(entry) is None:
        raise ModelInstallError(f"cannot install {name}: {problem}")
    try:
        return _download(entry, target, progress, env)
    except ModelInstallError as exc:
        raise ModelInstallError(f"cannot install {name}: {problem}; {exc}") from exc


def catalogue_model_path(name: str, cache_dir: Path | None = None) -> Path | None:
    """The installed file of a catalogue model, assembling it from installed parts if needed."""
    if find_entry(name) is None:
        return None
    try:
        return pull(name, cache_dir, use_hub=False)
    except ModelInstallError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return None


def default_model_path(
    cache_dir: Path | None = None,
    search_path: Sequence[str] | None = None,
    catalogue: tuple[CatalogueEntry, ...] = CATALOGUE,
    progress: Progress | None = None,
) -> Path | None:
    """The best available catalogue model (catalogue order: 1.5B before 0.5B).

    A model whose part packages are installed but not yet assembled is assembled on demand
    (progress on stderr). Parts that fail their checks are reported and skipped.
    """
    from agent.models.pypi_parts import missing_parts

    cache_dir = cache_dir or model_cache_dir()
    for entry in catalogue:
        path = installed_path(entry, cache_dir)
        if path is not None:
            return path
        parts = _parts_source(entry)
        if parts is None or missing_parts(parts, search_path):
            continue
        try:
            return pull(
                entry.name, cache_dir, progress, search_path=search_path, catalogue=catalogue, use_hub=False
            )
        except ModelInstallError as exc:
            print(f"agent: skipping {entry.name}: {exc}", file=sys.stderr)
    return None
