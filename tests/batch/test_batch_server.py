"""`agent batch` with 4 workers against a real `python -m llama_cpp.server` on loopback (the 270M
model: it cannot fix the bug, but every request, tool call and result goes through for real). The
server answers one request at a time, so the four workers' requests queue there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.batch_support import agent, median_tasks, results
from tests.commands import AGENT
from tests.ports import free_port

N_CTX = 4096


@pytest.fixture(scope="module")
def server_url(gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_path), "--host", "127.0.0.1"]
    command += [
        "--port",
        str(port),
        "--n_ctx",
        str(N_CTX),
        "--logits_all",
        "False",
        "--chat_format",
        "chatml",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text()[-2000:]
                assert time.monotonic() < deadline, "llama_cpp.server did not start in 120 s"
                try:
                    if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def server_args(tasks: Path, out: Path, url: str) -> list[str]:
    return ["batch", str(tasks), "--workers", "4", "--base-url", url, "--ctx", str(N_CTX)]


@pytest.mark.model
def test_batch_against_llama_cpp_server_writes_all_results_and_resumes(
    server_url: str, tmp_path: Path
) -> None:
    tasks = median_tasks(tmp_path, 4)
    out = tmp_path / "out"
    args = [*server_args(tasks, out, server_url), "--max-steps", "1", "--out", str(out)]
    started = time.monotonic()
    proc = subprocess.Popen(
        [*AGENT, *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while not results(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    first_result = time.monotonic() - started
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = results(out)
    assert 1 <= len(first) < 4, "the kill should land after the first result"

    resumed = agent(args, tmp_path, timeout=900)
    total = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{len(first)} already finished" in resumed.stderr
    final = results(out)
    assert sorted(final) == [f"median-{i}" for i in range(4)]
    for tid in first:
        assert final[tid] == first[tid]
    for result in final.values():
        assert result["engine"] == "openai" and result["model"].endswith(".gguf")
        assert result["status"] in ("resolved", "not_resolved", "no_change") and result["steps"] == 1
        # every task's requests reached the server (the base model answers an unforced turn with nothing)
        assert result["report"]["usage"]["prompt_tokens"] > 1000
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in predictions] == sorted(final)
    print(
        f"\nllama_cpp.server batch, 4 tasks, 4 workers: first result after {first_result:.1f}s, "
        f"killed with {len(first)} done, all 4 after {total:.1f}s"
    )
