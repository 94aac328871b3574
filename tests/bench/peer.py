"""The peer in the minibugs benchmark: mini-swe-agent (text-based config) against
`python -m llama_cpp.server` serving the same GGUF on loopback.

mini-swe-agent lives in its own virtual environment (`pip install mini-swe-agent==2.4.6`), given
by `--peer-venv`; nothing of it is imported here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(model: Path, log: Path, n_ctx: int = 16384) -> Iterator[str]:
    """A real llama_cpp.server on a free loopback port, torn down afterwards."""
    port = _free_port()
    threads = str(len(os.sched_getaffinity(0)))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(n_ctx),
                "--logits_all",
                "False",
                "--n_threads",
                threads,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                raise RuntimeError(f"llama_cpp.server did not start; see {log}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still decoding a request its client gave up on
                proc.kill()
                proc.wait()


def run_mini(
    peer_venv: Path, issue: str, repo: Path, url: str, minutes: float, steps: int = 20
) -> dict[str, Any]:
    """One mini-swe-agent run in `repo`; returns wall time, steps and how it ended."""
    trajectory = repo.parent / "mini.traj.json"
    cmd = [
        str(peer_venv / "bin" / "mini"),
        "-c",
        "mini_textbased.yaml",
        "-c",
        "model.model_class=litellm_textbased",
        "-c",
        "model.model_name=openai/local",
        "-c",
        f"model.model_kwargs.api_base={url}",
        "-c",
        "model.model_kwargs.temperature=0",
        "-c",
        f"agent.step_limit={steps}",
        "-c",
        "agent.cost_limit=0",
        "-c",
        "agent.mode=yolo",
        "--exit-immediately",
        "-t",
        issue,
        "-o",
        str(trajectory),
    ]
    env = {
        **os.environ,
        "OPENAI_API_KEY": "local",
        "MSWEA_COST_TRACKING": "ignore_errors",
        "MSWEA_CONFIGURED": "true",
    }
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=minutes * 60,
            stdin=subprocess.DEVNULL,
        )
        ended = "exited" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        ended = "time budget"
    wall = time.monotonic() - started
    info: dict[str, Any] = {}
    if trajectory.is_file():
        data = json.loads(trajectory.read_text())
        info = data.get("info", {})
        messages = data.get("messages", [])
        info["steps"] = sum(1 for m in messages if m.get("role") == "assistant")
    return {
        "wall_s": round(wall, 1),
        "turns": info.get("steps", 0),
        "stop_reason": info.get("exit_status") or ended,
    }
