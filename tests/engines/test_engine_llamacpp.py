"""LlamaCppEngine on the real 270M GGUF: loading, streaming, constrained tool calls, prefix reuse.

The model is a small base model: it cannot pick tools sensibly, but everything it emits inside a
call is grammar-constrained, so the calls must validate against their schemas whatever it "thinks".
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from agent.engines.base import ChatOptions, EngineError, final
from agent.engines.chat_template import ChatTemplate
from agent.engines.llama_load import load_llama, physical_cores, usable_cpus
from agent.engines.llamacpp import BUDGET_STOPS, LlamaCppEngine
from agent.events import ChatDone, TextDelta, ToolCallEvent, UsageEvent
from agent.formats.hermes import HermesFormat
from agent.messages import Message, ToolCall, ToolSpec

pytestmark = pytest.mark.model

READ = ToolSpec(
    name="read_file",
    description="Show a file's lines.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "start_line": {"type": "integer", "minimum": 1}},
        "required": ["path"],
    },
)
SEARCH = ToolSpec(
    name="search",
    description="Search the code.",
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "minLength": 1, "maxLength": 200},
            "mode": {"enum": ["regex", "literal"]},
            "case_sensitive": {"type": "boolean"},
            "globs": {"type": "array", "items": {"type": "string"}},
            "limit": {"type": "number"},
        },
        "required": ["pattern", "mode"],
    },
)
TOOLS = [READ, SEARCH]
SCHEMAS = {t.name: t.parameters for t in TOOLS}


@pytest.fixture(scope="module")
def engine(gemma_path: Path) -> LlamaCppEngine:
    return LlamaCppEngine(load_llama(gemma_path, n_ctx=4096), gemma_path.name)


def conversation() -> list[Message]:
    return [Message.system("You are a coding agent."), Message.user("Show me the file stats.py.")]


def test_load_failure_names_the_problem(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EngineError, match=r"could not load broken\.gguf.*complete GGUF"):
        load_llama(bogus, n_ctx=512)
    with pytest.raises(EngineError, match="not found"):
        load_llama(tmp_path / "missing.gguf")


def test_threads_follow_the_hardware(engine: LlamaCppEngine) -> None:
    llama = engine._llama
    assert llama.n_threads == physical_cores(usable_cpus())  # not llama-cpp-python's cpu_count // 2
    assert llama.n_threads_batch == len(usable_cpus())
    assert engine.context_length == 4096


def test_prompt_starts_with_bos_once(engine: LlamaCppEngine) -> None:
    tokens = engine._prompt_tokens(engine._render_text(conversation(), []))
    bos = engine._llama.token_bos()
    assert tokens[0] == bos and tokens[1] != bos


def test_streams_text_and_ends_with_usage_and_done(engine: LlamaCppEngine) -> None:
    events = list(engine.chat(conversation(), [], ChatOptions(max_tokens=24, tool_choice="none")))
    done = events[-1]
    assert isinstance(done, ChatDone) and isinstance(events[-2], UsageEvent)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas and "".join(deltas).strip() == done.message.content
    assert 0 < done.usage.generated_tokens <= 24
    assert done.usage.prompt_tokens == engine.count_tokens(conversation(), [])
    assert done.usage.prefill_seconds > 0 and done.usage.decode_seconds > 0


def test_required_call_validates_against_its_schema(engine: LlamaCppEngine) -> None:
    events = list(engine.chat(conversation(), TOOLS, ChatOptions(tool_choice="required", max_tokens=200)))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    done = events[-1]
    assert isinstance(done, ChatDone) and done.finish_reason == "tool_calls"
    assert calls and calls == done.message.tool_calls
    for call in calls:
        assert call.parse_error is None, call
        jsonschema.validate(call.arguments, SCHEMAS[call.name])


def test_named_tool_choice_forces_that_tool(engine: LlamaCppEngine) -> None:
    done = final(engine.chat(conversation(), TOOLS, ChatOptions(tool_choice="search", max_tokens=120)))
    assert done.message.tool_calls and {c.name for c in done.message.tool_calls} == {"search"}
    for call in done.message.tool_calls:
        if call.parse_error is None:
            jsonschema.validate(call.arguments, SEARCH.parameters)
        else:  # the base model may ramble inside a string until the token limit: reported, not broken
            assert "cut off by the token limit" in call.parse_error


def test_unknown_tool_choice_is_an_engine_error(engine: LlamaCppEngine) -> None:
    with pytest.raises(EngineError, match="'grep'"):
        list(engine.chat(conversation(), TOOLS, ChatOptions(tool_choice="grep")))


def test_tool_choice_none_never_calls(engine: LlamaCppEngine) -> None:
    done = final(engine.chat(conversation(), TOOLS, ChatOptions(tool_choice="none", max_tokens=40)))
    assert done.message.tool_calls == [] and done.finish_reason != "tool_calls"
    assert done.usage.generated_tokens <= 40  # the reasoning allowance is not spent on plain text
    assert "<tool_call>" not in done.message.content


def test_the_model_may_make_several_calls_in_a_row(engine: LlamaCppEngine) -> None:
    """A plain prompt of past calls makes the base model continue the pattern: call after call."""
    plain = LlamaCppEngine(engine._llama, "plain", template=ChatTemplate("{{ messages[-1]['content'] }}"))
    shots = [f"{n}.py" for n in "abcdef"]
    history = "\n".join(
        HermesFormat().render_call(ToolCall(id="x", name="read_file", arguments={"path": p})) for p in shots
    )
    done = final(plain.chat([Message.user(history + "\n")], [READ], ChatOptions(max_tokens=200)))
    calls = done.message.tool_calls
    assert 2 <= len(calls) <= plain.max_calls_per_turn
    assert len({c.id for c in calls}) == len(calls)
    for call in calls:
        assert call.name == "read_file" and call.parse_error is None
        jsonschema.validate(call.arguments, READ.parameters)


def test_next_turn_reuses_the_kv_cache(engine: LlamaCppEngine) -> None:
    messages = conversation()
    first = final(engine.chat(messages, TOOLS, ChatOptions(tool_choice="required", max_tokens=120)))
    messages.append(first.message)
    messages += [
        Message.tool_result(c, "1| def median(xs):\n2|     return xs[0]") for c in first.message.tool_calls
    ]
    second = final(engine.chat(messages, TOOLS, ChatOptions(tool_choice="required", max_tokens=120)))
    usage = second.usage
    assert usage.prompt_tokens == engine.count_tokens(messages, TOOLS)
    assert usage.cached_tokens > 0.8 * first.usage.prompt_tokens
    assert usage.prefilled_tokens < usage.prompt_tokens / 4
    assert usage.prompt_tokens > first.usage.prompt_tokens


def test_prompt_too_long_is_an_engine_error(engine: LlamaCppEngine) -> None:
    with pytest.raises(EngineError, match="does not fit the context window"):
        list(engine.chat([Message.user("word " * 5000)], [], ChatOptions(max_tokens=16)))


def test_twenty_turns_every_call_validates_and_each_turn_prefills_only_what_is_new(
    engine: LlamaCppEngine,
) -> None:
    """The issue's 20-turn session on the model's own template: calls valid, the cache kept all along."""
    engine._llama.reset()
    messages = conversation()
    options = ChatOptions(tool_choice="required", max_tokens=64)
    replied = 0
    prefilled = new = 0
    for turn in range(20):
        done = final(engine.chat(messages, TOOLS, options))
        calls = done.message.tool_calls
        assert calls, f"turn {turn}: no call"
        for call in calls:
            if call.parse_error and call.parse_error.startswith(BUDGET_STOPS):  # the limit, or the loop guard
                continue  # a base model may ramble inside a string: reported, not broken
            assert call.parse_error is None, (turn, call.parse_error)
            jsonschema.validate(call.arguments, SCHEMAS[call.name])
        if turn:
            prefilled += done.usage.prefilled_tokens
            new += done.usage.prompt_tokens - replied
            assert done.usage.cached_tokens >= replied - 8, (turn, done.usage)
        messages.append(done.message)
        replied = len(engine._prompt_tokens(engine._render_text(messages, TOOLS, generation=False)))
        messages += [Message.tool_result(c, f"{c.name}: ok") for c in calls]
    # each turn re-reads its new tokens plus a few at the seams of its passes (call, look for another)
    assert prefilled <= 1.25 * new, (prefilled, new)
