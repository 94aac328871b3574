"""The opening's KV state on disk: a second session with the real 0.5B model prefills only the task."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engines.base import ChatOptions
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.engines.prefix_cache import MIN_TOKENS, PrefixCache
from agent.events import ChatDone
from agent.messages import Message
from agent.models import pull
from tools.registry import Toolbox, default_tools

pytestmark = pytest.mark.model

SYSTEM = "You are a careful coding agent. You fix an issue in a git repository by calling tools."
OPTIONS = ChatOptions(tool_choice="none", max_tokens=8)


def session(cache_dir: Path) -> LlamaCppEngine:
    """A new session: the model loaded afresh, as `agent fix` does."""
    path = pull("qwen2.5-coder-0.5b", use_hub=False)
    llama = load_llama(path, n_ctx=4096)
    return LlamaCppEngine(llama, path.name, prefix_cache=PrefixCache(cache_dir, llama))


def reply(engine: LlamaCppEngine, system: str, task: str) -> ChatDone:
    messages = [Message.system(system), Message.user(task)]
    events = list(engine.chat(messages, Toolbox(default_tools()).specs(), OPTIONS))
    done = events[-1]
    assert isinstance(done, ChatDone)
    return done


def test_a_new_session_loads_the_opening_instead_of_prefilling_it(tmp_path: Path) -> None:
    first = session(tmp_path)
    before = reply(first, SYSTEM, "Say hello.")
    assert first.opening_restored == 0 and before.usage.cached_tokens == 0  # nothing saved yet
    cache = first.prefix_cache
    assert cache is not None and cache.state_path.is_file()
    opening = len(cache.saved_tokens())
    assert opening >= MIN_TOKENS and before.usage.prompt_tokens > opening
    del first

    second = session(tmp_path)
    after = reply(second, SYSTEM, "Say hello.")
    assert second.opening_restored == opening
    assert after.usage.prefilled_tokens == after.usage.prompt_tokens - opening
    assert after.message.content == before.message.content  # the same state, the same greedy reply

    # another opening (a changed system prompt) is prefilled, and saved in its place
    third = session(tmp_path)
    changed = reply(third, SYSTEM + " Be brief.", "Say hello.")
    assert third.opening_restored == 0 and changed.usage.cached_tokens == 0
    assert third.prefix_cache is not None and len(third.prefix_cache.saved_tokens()) > opening


def test_a_damaged_state_file_is_dropped_and_the_session_goes_on(tmp_path: Path) -> None:
    first = session(tmp_path)
    expected = reply(first, SYSTEM, "Say hello.").message.content
    assert first.prefix_cache is not None
    state = first.prefix_cache.state_path
    state.write_bytes(state.read_bytes()[:4096])  # cut short, the tokens file still matching
    del first

    second = session(tmp_path)
    done = reply(second, SYSTEM, "Say hello.")
    assert second.opening_restored == 0 and done.message.content == expected
    assert second.prefix_cache is not None and second.prefix_cache.saved_tokens()  # saved afresh
