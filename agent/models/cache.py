"""Where installed models live, and the cheap check that one is complete."""

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


def is_verified(path: Path, size: int | None, sha256: str | None) -> bool:
    """Present, the right size, and verified at install time (recorded in the sidecar file)."""
    if not path.is_file() or (size is not None and path.stat().st_size != size):
        return False
    recorded = sidecar(path).read_text().strip() if sidecar(path).is_file() else ""
    return bool(recorded) and (sha256 is None or recorded == sha256)
