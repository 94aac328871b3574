"""OpenAICompatEngine against a real `python -m llama_cpp.server` on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from agent.engine import ChatOptions, EngineError, final
from agent.engines.openai_compat import OpenAICompatEngine, api_root
from agent.events import ChatDone, TextDelta
from agent.messages import Message, ToolSpec

pytestmark = pytest.mark.model

READ_FILE = ToolSpec(
    name="read_file",
    description="Show a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: the server's verbose log must never block it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gemma_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--logits_all",
            "False",
            "--chat_format",  # the small model's GGUF has no template; ChatML is what our engine uses too
            "chatml",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("llama_cpp.server did not start in 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def engine(server: str) -> Iterator[OpenAICompatEngine]:
    with httpx.Client(timeout=120) as client:
        yield OpenAICompatEngine(client=client, base_url=server.removesuffix("/v1"), context_length=2048)


def test_api_root_accepts_both_spellings() -> None:
    assert api_root("http://h:8000") == api_root("http://h:8000/v1/") == "http://h:8000/v1"


def test_streamed_completion(engine: OpenAICompatEngine) -> None:
    assert engine.model  # discovered from /v1/models
    events = list(engine.chat([Message.user("Say hello.")], [], ChatOptions(max_tokens=16)))
    done = events[-1]
    assert isinstance(done, ChatDone)
    assert any(isinstance(e, TextDelta) for e in events)
    assert done.usage.prompt_tokens > 0 and done.usage.generated_tokens > 0
    assert engine.count_tokens([Message.user("Say hello.")], []) > 0


def test_tool_call_round_trip(engine: OpenAICompatEngine) -> None:
    messages = [Message.system("You read files."), Message.user("Show me stats.py")]
    first = final(engine.chat(messages, [READ_FILE], ChatOptions(tool_choice="read_file", max_tokens=64)))
    assert len(first.message.tool_calls) == 1
    call = first.message.tool_calls[0]
    assert call.name == "read_file" and call.parse_error is None
    jsonschema.validate(call.arguments, READ_FILE.parameters)
    messages += [first.message, Message.tool_result(call, "def median(xs): ...")]
    second = final(engine.chat(messages, [READ_FILE], ChatOptions(tool_choice="none", max_tokens=16)))
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_unreachable_server_is_a_clear_engine_error() -> None:
    with httpx.Client(timeout=2) as client:
        engine = OpenAICompatEngine(client=client, base_url=f"http://127.0.0.1:{free_port()}", model="m")
        with pytest.raises(EngineError, match="Check that the server is running"):
            list(engine.chat([Message.user("hi")], [], ChatOptions(max_tokens=4)))
