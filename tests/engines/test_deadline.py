"""A reply ends by its deadline whatever it costs (ChatOptions.deadline): the embedded engine stops
between prefill batches and decode steps, the HTTP engine stops waiting; either way the reply ends
with finish_reason "deadline", and a run built on it ends within its time budget with a report."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.engines.base import ChatOptions, final
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.engines.openai_compat import OpenAICompatEngine
from agent.engines.scripted import ScriptedCall, ScriptedTurn
from agent.events import ToolStarted
from agent.messages import Message
from tests.ports import free_port
from tests.repos import median_repo
from tests.scripts import run_fix, scripted

STORY = [Message.user("Write a very long story about a lighthouse keeper, chapter after chapter. " * 40)]


@pytest.fixture(scope="module")
def engine(gemma_path: Path) -> LlamaCppEngine:
    llama = load_llama(gemma_path, n_ctx=4096)
    return LlamaCppEngine(llama=llama, model_name=gemma_path.name)


def test_a_deadline_already_past_ends_the_reply_before_its_prefill(engine: LlamaCppEngine) -> None:
    began = time.monotonic()
    options = ChatOptions(tool_choice="none", max_tokens=2000, deadline=began - 1)
    done = final(engine.chat(STORY, [], options))
    assert done.finish_reason == "deadline" and done.usage.generated_tokens == 0
    assert time.monotonic() - began < 5


def test_a_deadline_mid_reply_cuts_the_decode_there(engine: LlamaCppEngine) -> None:
    final(engine.chat(STORY, [], ChatOptions(tool_choice="none", max_tokens=1)))  # the prompt cached
    began = time.monotonic()
    options = ChatOptions(tool_choice="none", max_tokens=4000, deadline=began + 4.0, temperature=0.8, seed=3)
    done = final(engine.chat(STORY, [], options))
    assert done.finish_reason == "deadline"
    assert 0 < done.usage.generated_tokens < 4000
    assert time.monotonic() - began < 15  # one decode step past the deadline at most (a slow, busy CPU)
    # the engine's cache is left consistent: the next reply goes on normally
    again = final(engine.chat(STORY, [], ChatOptions(tool_choice="none", max_tokens=8)))
    assert again.finish_reason in ("length", "stop") and again.usage.generated_tokens >= 1


class _Stalling(BaseHTTPRequestHandler):
    """A server that accepts the request and then sends nothing for a long time."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(30)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stalling_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Stalling)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def test_the_http_engine_stops_waiting_at_the_deadline(stalling_server: str) -> None:
    client = httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))
    engine = OpenAICompatEngine(client=client, base_url=stalling_server, model="m", context_length=4096)
    began = time.monotonic()
    options = ChatOptions(tool_choice="none", max_tokens=100, deadline=began + 1.5)
    done = final(engine.chat([Message.user("hi")], [], options))
    assert done.finish_reason == "deadline" and done.message.content == ""
    assert time.monotonic() - began < 10


def test_a_run_ends_within_its_time_budget_with_a_report(engine: LlamaCppEngine, tmp_path: Path) -> None:
    """The 270M base model writes on and on, or goes round in circles; whichever, a 20-second budget
    ends the run by ~21 s (the baseline tests and the report add a little) with a report."""
    repo = median_repo(tmp_path / "user")
    began = time.monotonic()
    report, _ = run_fix(repo, engine, max_minutes=20 / 60, max_steps=50, plan=False)
    took = time.monotonic() - began
    assert report.status in ("not_resolved", "no_change", "unverified"), report
    # (+10 s: the worktree, context pack and report on a busy machine; without the deadline the model
    # would write for minutes)
    assert report.elapsed_seconds <= 20 * 1.1 + 10 and took <= 20 * 1.1 + 20


def test_a_reply_still_running_at_the_deadline_ends_the_run_there(tmp_path: Path) -> None:
    """A model on a slow CPU (a scripted turn whose prompt takes two minutes): the reply stops at the
    run's deadline, its calls dropped, and the run ends with stop_reason max_time and a report."""
    repo = median_repo(tmp_path / "user")
    slow = ScriptedTurn(
        prefill_seconds=120,
        tool_calls=[ScriptedCall(name="read_file", arguments={"path": "stats.py"})],
    )
    began = time.monotonic()
    report, events = run_fix(repo, scripted([slow]), max_minutes=8 / 60, plan=False)
    took = time.monotonic() - began
    assert report.stop_reason == "max_time" and report.tool_calls == 0, report
    called = [event.call.name for event in events if isinstance(event, ToolStarted)]
    assert called == ["run_tests"]  # the baseline only: the model's call never ran
    assert report.elapsed_seconds <= 8 + 10 and took <= 8 + 20
