"""OpenAICompatEngine against a real `python -m llama_cpp.server` on loopback, and against a small
real loopback HTTP server that replays recorded-style SSE streams (for what the 270M model cannot
be made to do on demand: Hermes text calls, parallel calls, server errors)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from agent.engines.base import ChatOptions, EngineError, final
from agent.engines.openai_compat import OpenAICompatEngine, api_root
from agent.events import ChatDone, TextDelta, ToolCallEvent, UsageEvent
from agent.messages import Message, ToolCall, ToolSpec
from tests.ports import free_port

READ_FILE = ToolSpec(
    name="read_file",
    description="Show a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def test_api_root_rule() -> None:
    assert api_root("http://h:8000") == api_root("http://h:8000/v1/") == "http://h:8000/v1"
    assert api_root("https://h/v1beta/openai") == "https://h/v1beta/openai"  # a version segment: as given
    assert api_root("http://h/api/v3/") == "http://h/api/v3"


# ---- the real llama_cpp.server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: the server's verbose log must never block it
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--logits_all", "False"]
    command += ["--chat_format", "chatml"]  # the 270M GGUF has no template; ChatML is our fallback too
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not answer /v1/models within 120 s")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def engine(server: str) -> Iterator[OpenAICompatEngine]:
    with httpx.Client(timeout=120) as client:
        yield OpenAICompatEngine(client=client, base_url=server.removesuffix("/v1"), context_length=2048)


@pytest.mark.model
def test_streamed_completion(engine: OpenAICompatEngine) -> None:
    assert engine.model.endswith(".gguf")  # discovered from /v1/models
    events = list(engine.chat([Message.user("Say hello.")], [], ChatOptions(max_tokens=16)))
    done = events[-1]
    assert isinstance(done, ChatDone) and isinstance(events[-2], UsageEvent)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas and "".join(deltas).strip() == done.message.content
    assert done.usage.prompt_tokens > 0 and 0 < done.usage.generated_tokens <= 16


@pytest.mark.model
def test_token_count_uses_the_server_tokenizer(engine: OpenAICompatEngine) -> None:
    assert engine.exact_token_count  # llama_cpp.server has /extras/tokenize
    short = engine.count_tokens([Message.user("Say hello.")], [])
    longer = engine.count_tokens([Message.user("Say hello. " * 20)], [READ_FILE])
    assert 0 < short < longer


@pytest.mark.model
def test_tool_call_round_trip(engine: OpenAICompatEngine) -> None:
    messages = [Message.system("You read files."), Message.user("Show me stats.py")]
    first = final(engine.chat(messages, [READ_FILE], ChatOptions(tool_choice="read_file", max_tokens=64)))
    assert first.finish_reason == "tool_calls" and len(first.message.tool_calls) == 1
    call = first.message.tool_calls[0]
    assert call.name == "read_file" and call.parse_error is None
    jsonschema.validate(call.arguments, READ_FILE.parameters)
    messages += [first.message, Message.tool_result(call, "def median(xs): ...")]
    # The base model answers an empty turn with an empty turn; a forced call makes it produce tokens.
    second = final(engine.chat(messages, [READ_FILE], ChatOptions(tool_choice="read_file", max_tokens=64)))
    assert second.message.tool_calls and second.message.tool_calls[0].parse_error is None
    jsonschema.validate(second.message.tool_calls[0].arguments, READ_FILE.parameters)
    assert second.usage.prompt_tokens > first.usage.prompt_tokens and second.usage.generated_tokens > 0


@pytest.mark.model
def test_wrong_path_is_an_engine_error_naming_the_fix(server: str) -> None:
    with httpx.Client(timeout=30) as client:
        engine = OpenAICompatEngine(
            client=client, base_url=server.removesuffix("/v1") + "/nope/v1", model="m"
        )
        with pytest.raises(EngineError, match=r"answered 404.*check --base-url"):
            list(engine.chat([Message.user("hi")], [], ChatOptions(max_tokens=4)))


def test_unreachable_server_is_a_clear_engine_error() -> None:
    port = free_port()
    with httpx.Client(timeout=2) as client:
        engine = OpenAICompatEngine(client=client, base_url=f"http://127.0.0.1:{port}", model="m")
        with pytest.raises(EngineError, match=rf"127\.0\.0\.1:{port}/v1.*Check that the server is running"):
            list(engine.chat([Message.user("hi")], [], ChatOptions(max_tokens=4)))
        with pytest.raises(EngineError, match="listing the models"):
            OpenAICompatEngine(client=client, base_url=f"http://127.0.0.1:{port}").model  # noqa: B018


# ---- a loopback server replaying SSE streams ------------------------------------------------------


class Replay(ThreadingHTTPServer):
    replies: list[tuple[int, Any]]  # (status, list of SSE events or a plain body)
    requests: list[dict[str, Any]]


class ReplayHandler(BaseHTTPRequestHandler):
    server: Replay

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("tokenize"):
            self.send_error(404)
            return
        self.server.requests.append(body)
        status, reply = self.server.replies.pop(0)
        if not isinstance(reply, list):
            self.send_response(status)
            self.end_headers()
            self.wfile.write(json.dumps(reply).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in reply:
            self.wfile.write(f": keep-alive\n\ndata: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def replay_server() -> Iterator[Replay]:
    httpd = Replay(("127.0.0.1", 0), ReplayHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def replay(replay_server: Replay) -> Iterator[tuple[Replay, OpenAICompatEngine]]:
    replay_server.replies, replay_server.requests = [], []
    with httpx.Client(timeout=10) as client:
        url = f"http://127.0.0.1:{replay_server.server_address[1]}/v1"
        yield replay_server, OpenAICompatEngine(client=client, base_url=url, model="m", api_key="k")


def chunk(content: str | None = None, calls: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    delta: dict[str, Any] = {"content": content, "tool_calls": calls}
    finish = extra.pop("finish", None)
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_request_is_openai_shaped(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    httpd.replies.append((200, [chunk("ok", finish="stop", usage={"prompt_tokens": 9})]))
    call = ToolCall(id="call_7", name="read_file", arguments={"path": "a.py"})
    messages = [
        Message.user("read a.py"),
        Message(role="assistant", content="", tool_calls=[call]),
        Message.tool_result(call, "x = 1"),
    ]
    final(engine.chat(messages, [READ_FILE], ChatOptions(tool_choice="read_file", stop=["END"])))
    sent = httpd.requests[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["cache_prompt"] is True and sent["model"] == "m" and sent["stop"] == ["END"]
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"path": "a.py"}'
    assert sent["messages"][2] == {"role": "tool", "content": "x = 1", "tool_call_id": "call_7"}
    assert sent["tools"] == [READ_FILE.openai()]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "read_file"}}
    assert "min_p" not in sent  # the server's own floor unless the loop asks for another


def test_a_sampling_floor_is_sent_as_min_p(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    httpd.replies.append((200, [chunk("ok", finish="stop", usage={"prompt_tokens": 9})]))
    final(engine.chat([Message.user("hi")], [], ChatOptions(temperature=0.9, min_p=0.025)))
    assert httpd.requests[0]["min_p"] == 0.025 and httpd.requests[0]["temperature"] == 0.9


def test_hermes_calls_left_in_the_content_are_parsed(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    pieces = ["I'll read it.\n<tool", '_call>\n{"name": "read_file", ', '"arguments": {"path": "a.py",}}\n']
    httpd.replies.append((200, [chunk(p) for p in pieces] + [chunk(finish="stop")]))
    events = list(engine.chat([Message.user("read a.py")], [READ_FILE], ChatOptions()))
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == "I'll read it.\n"  # the call's text is never shown as prose
    done = events[-1]
    assert isinstance(done, ChatDone) and done.finish_reason == "tool_calls"
    assert done.message.content == "I'll read it."
    assert [(c.name, c.arguments) for c in done.message.tool_calls] == [("read_file", {"path": "a.py"})]


def test_parallel_streamed_calls_join_by_index(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    start = [
        {"index": 0, "id": "A", "function": {"name": "read_file", "arguments": '{"pa'}},
        {"index": 1, "id": "B", "function": {"name": "read_file", "arguments": '{"path": '}},
    ]
    rest = [
        {"index": 0, "function": {"arguments": 'th": "a.py"}'}},
        {"index": 1, "function": {"arguments": "}"}},
    ]
    usage = {"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 80}}
    httpd.replies.append(
        (200, [chunk(calls=start), chunk(calls=rest, finish="tool_calls"), chunk(usage=usage)])
    )
    events = list(engine.chat([Message.user("read")], [READ_FILE], ChatOptions()))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.arguments, c.parse_error is None) for c in calls] == [
        ("A", {"path": "a.py"}, True),
        ("B", {}, False),
    ]
    assert calls[1].raw_arguments == '{"path": }' and "Expecting value" in (calls[1].parse_error or "")
    done = events[-1]
    assert isinstance(done, ChatDone)
    assert (done.usage.prompt_tokens, done.usage.cached_tokens, done.usage.prefilled_tokens) == (100, 80, 20)
    assert done.usage.generated_tokens == 7


def test_llama_server_timings_are_used(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    timings = {"cache_n": 500, "prompt_n": 12, "prompt_ms": 250.0, "predicted_n": 3, "predicted_ms": 60.0}
    httpd.replies.append((200, [chunk("a"), chunk("b", finish="stop", timings=timings)]))
    usage = final(engine.chat([Message.user("x")], [], ChatOptions())).usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.prefilled_tokens) == (512, 500, 12)
    assert (usage.generated_tokens, usage.prefill_seconds, usage.decode_seconds) == (3, 0.25, 0.06)
    assert (usage.drafted_tokens, usage.accepted_tokens) == (0, 0)


def test_the_servers_speculative_decoding_is_reported(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    timings = {"prompt_n": 12, "predicted_n": 40, "draft_n": 32, "draft_n_accepted": 24}
    httpd.replies.append((200, [chunk("a"), chunk("b", finish="stop", timings=timings)]))
    usage = final(engine.chat([Message.user("x")], [], ChatOptions())).usage
    assert (usage.drafted_tokens, usage.accepted_tokens, usage.acceptance_rate) == (32, 24, 0.75)


def test_without_server_usage_the_counts_are_estimated(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    httpd.replies.append((200, [chunk("one "), chunk("two"), chunk(finish="stop")]))
    usage = final(engine.chat([Message.user("count me")], [], ChatOptions())).usage
    assert not engine.exact_token_count  # the replay server has no tokenizer endpoint
    assert usage.generated_tokens == 2 and usage.prompt_tokens == engine.count_tokens(
        [Message.user("count me")], []
    )


def test_a_rejected_optional_key_is_dropped_and_remembered(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    rejection = {"error": {"message": "Unrecognized request argument supplied: cache_prompt"}}
    httpd.replies += [(400, rejection), (200, [chunk("hi", finish="stop")]), (200, [chunk("again")])]
    assert final(engine.chat([Message.user("x")], [], ChatOptions())).message.content == "hi"
    final(engine.chat([Message.user("x")], [], ChatOptions()))
    assert ["cache_prompt" in r for r in httpd.requests] == [True, False, False]


def test_http_errors_name_the_fix(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    httpd.replies.append((401, {"error": "bad key"}))
    with pytest.raises(EngineError, match=r"answered 401.*bad key.*API key"):
        list(engine.chat([Message.user("x")], [], ChatOptions()))


def test_an_error_event_mid_stream_is_an_engine_error(replay: tuple[Replay, OpenAICompatEngine]) -> None:
    httpd, engine = replay
    httpd.replies.append((200, [chunk("par"), {"error": {"message": "context overflow"}}]))
    with pytest.raises(EngineError, match=r"failed mid-stream.*context overflow"):
        list(engine.chat([Message.user("x")], [], ChatOptions()))
