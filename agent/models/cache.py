"""Where installed models live, and the cheap check that one is complete and verified."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class ModelInstallError(Exception):
    """A model could not be installed or verified; the message names the fix."""


def model_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`$AGENT_MODEL_DIR`, else `$XDG_CACHE_HOME/local-agent/models`, else `~/.cache/local-agent/models`."""
    if env.get("AGENT_MODEL_DIR"):
        return Path(env["AGENT_MODEL_DIR"]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "local-agent" / "models"


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def record_checksum(path: Path, sha256: str) -> None:
    """Written after a full check at install time, in `sha256sum -c` format."""
    sidecar(path).write_text(f"{sha256}  {path.name}\n")


def recorded_checksum(path: Path) -> str | None:
    try:
        words = sidecar(path).read_text().split()
    except OSError:
        return None
    return words[0].lower() if words and len(words[0]) == 64 else None


def is_verified(path: Path, pinned: Mapping[str, int | None]) -> bool:
    """Present, verified at install time, and (when the checksum is pinned) the pinned size.

    `pinned` maps each SHA-256 the catalogue accepts to its size; empty means the checksum was
    taken from the hub at download time and any recorded one is accepted.
    """
    if not path.is_file():
        return False
    recorded = recorded_checksum(path)
    if recorded is None:
        return False
    if not pinned:
        return True
    if recorded not in pinned:
        return False
    size = pinned[recorded]
    return size is None or path.stat().st_size == size
