"""The real `agent` command, run in a subprocess (`python -m agent.cli`), as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AGENT = [sys.executable, "-m", "agent.cli"]


def run_agent(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
