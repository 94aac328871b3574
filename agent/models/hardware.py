"""What this machine has: RAM (/proc/meminfo), NVIDIA VRAM (nvidia-smi), CPU cores (counted as the
embedded engine counts them when it loads a model: agent/engines/llama_load.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel

from agent.engines.llama_load import physical_cores, usable_cpus

GB = 1_000_000_000


class Hardware(BaseModel):
    ram_total: int
    ram_available: int
    vram_total: int = 0
    vram_free: int = 0
    gpus: list[str] = []
    cpus: int = 1  # CPUs this process may run on
    cores: int = 1  # physical cores among them (decode threads)
    source: str = "detected"  # "detected" or "given"


def _meminfo(path: Path = Path("/proc/meminfo")) -> tuple[int, int]:
    values: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            words = rest.split()
            if words and words[0].isdigit():
                values[key] = int(words[0]) * 1024
    except OSError:
        return 0, 0
    total = values.get("MemTotal", 0)
    return total, values.get("MemAvailable", values.get("MemFree", total))


def _nvidia() -> tuple[int, int, list[str]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0, 0, []
    query = ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run([exe, *query], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0, 0, []
    total = free = 0
    names = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            names.append(parts[0])
            total += int(parts[1]) * 1024 * 1024
            free += int(parts[2]) * 1024 * 1024
    return total, free, names


def detect(ram_gb: float | None = None, vram_gb: float | None = None) -> Hardware:
    """This machine, with RAM and VRAM replaced by the given sizes (in GB) when given."""
    ram_total, ram_available = _meminfo()
    vram_total, vram_free, gpus = _nvidia() if vram_gb is None else (0, 0, [])
    cpus = usable_cpus()
    given = ram_gb is not None or vram_gb is not None
    if ram_gb is not None:
        ram_total = ram_available = int(ram_gb * GB)
    if vram_gb is not None:
        vram_total = vram_free = int(vram_gb * GB)
        gpus = ["given"] if vram_gb > 0 else []
    return Hardware(
        ram_total=ram_total,
        ram_available=ram_available,
        vram_total=vram_total,
        vram_free=vram_free,
        gpus=gpus,
        cpus=len(cpus),
        cores=physical_cores(cpus),
        source="given" if given else "detected",
    )
