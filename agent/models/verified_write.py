"""Writing a model file so that nothing half-written ever looks like a model.

Bytes go to `<name>.partial-<pid>` beside the target, hashed in the same pass; the file is synced
and renamed onto the target only when size and SHA-256 are right. Any failure, Ctrl-C included,
removes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from agent.models.cache import ModelInstallError, record_checksum
from agent.progress import Progress


def write_verified(
    chunks: Iterable[bytes], target: Path, size: int, sha256: str, progress: Progress, source: str
) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > size:
                    raise ModelInstallError(f"{source} is larger than the expected {size} bytes: refusing it")
                out.write(chunk)
                digest.update(chunk)
                progress(written, size)
            out.flush()
            os.fsync(out.fileno())
        check_digest(written, digest.hexdigest(), size, sha256, source)
        publish(partial, target, sha256)
        return target
    finally:
        partial.unlink(missing_ok=True)


def publish(partial: Path, target: Path, sha256: str) -> None:
    """Atomically give a verified file its name, then record its checksum."""
    os.replace(partial, target)
    record_checksum(target, sha256)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_digest(written: int, actual: str, size: int, sha256: str, source: str) -> None:
    if written != size:
        raise ModelInstallError(f"{source} has {written} bytes, expected {size}: refusing to use it")
    if actual != sha256:
        raise ModelInstallError(
            f"{source} has SHA-256 {actual}, expected {sha256}: refusing to use it "
            "(the download or the packages are corrupt or not what the catalogue names)"
        )
