"""The embedded engine reports a long prefill as it goes: one `PrefillProgress` per evaluated
chunk, before the reply's first text, ending at the tokens it had to evaluate; a prompt the cache
holds is not reported again. The console's heartbeat (agent/cli/heartbeat.py) reads them."""

from __future__ import annotations

from pathlib import Path

from agent.engines.base import ChatOptions
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.events import ChatDone, PrefillProgress, TextDelta, ThinkingDelta
from agent.messages import Message

PROMPT = [Message.user("Tell me about lighthouses and the people who kept them. " * 30)]


def test_a_prefill_is_reported_chunk_by_chunk(gemma_path: Path) -> None:
    engine = LlamaCppEngine(llama=load_llama(gemma_path, n_ctx=2048, n_batch=128), model_name="gemma")
    options = ChatOptions(tool_choice="none", max_tokens=4)
    events = list(engine.chat(PROMPT, [], options))
    progress = [e for e in events if isinstance(e, PrefillProgress)]
    done = events[-1]
    assert isinstance(done, ChatDone)
    assert len(progress) >= 3  # a prompt of some 400 tokens in chunks of 128
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    assert {p.total for p in progress} == {progress[-1].done} == {done.usage.prefilled_tokens}
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta | ThinkingDelta))
    assert max(i for i, e in enumerate(events) if isinstance(e, PrefillProgress)) < first_text
    again = list(engine.chat(PROMPT, [], options))  # the prompt is cached now: (almost) nothing to do
    assert sum(p.done for p in again if isinstance(p, PrefillProgress)) <= 1
