"""The loop guard of constrained calls, and the turn budget that does not pay for reasoning a
model never does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.engines.repetition import MIN_SPAN, repeating_period
from agent.engines.turn import Pass, Turn
from tests.paths import ROOT


def test_a_tail_that_repeats_one_pattern_is_a_loop() -> None:
    pattern = [11, 12, 13, 14, 15, 16, 17]  # ` if u == 's'` is about this long
    ids = [1, 2, 3] + pattern * 20
    assert repeating_period(ids) == len(pattern)
    assert repeating_period([5] * MIN_SPAN) == 1
    assert repeating_period([5] * (MIN_SPAN - 1)) == 0  # too short to be sure
    assert repeating_period([*ids, 99]) == 0  # the loop was broken


@pytest.mark.model
def test_real_code_never_looks_like_a_loop(gemma_path: Path) -> None:
    import llama_cpp

    llama: Any = llama_cpp.Llama(model_path=str(gemma_path), vocab_only=True, verbose=False)
    root = ROOT
    loop = sorted((root / "agent" / "loop").glob("*.py"))  # the loop's code (agent/loop.py once)
    for source in [*loop, root / "tools" / "edit_file.py", root / "README.md"]:
        ids = llama.tokenize(source.read_bytes(), add_bos=False, special=False)
        assert not any(repeating_period(ids[:end]) for end in range(MIN_SPAN, len(ids), 8)), source


def turn(budget: int, allowance: int, room: int = 10_000) -> Turn:
    return Turn(
        messages=[],
        tools=[],
        prompt_text="",
        prompt=[],
        budget=budget,
        room=room,
        thinking_allowance=allowance,
    )


def test_reasoning_is_paid_from_its_own_allowance_only_when_the_model_reasons() -> None:
    plain = turn(768, 2048)
    plain.passes.append(Pass(ids=[0] * 700))
    assert plain.remaining() == 68  # no reasoning: a call cannot run on into the reasoning allowance
    thinker = turn(768, 2048)
    thinker.passes.append(Pass(ids=[0] * 1000))
    thinker.thinking_tokens = 900
    assert thinker.remaining() == 768 + 900 - 1000
    thinker.thinking_tokens = 5000
    assert thinker.remaining() == 768 + 2048 - 1000  # the allowance caps it
    assert turn(768, 2048, room=500).remaining() == 500  # and the context window caps everything
    assert turn(768, 2048).most() == 768 + 2048


@pytest.mark.model
def test_a_call_that_loops_is_stopped_with_a_message_the_model_can_act_on(gemma_path: Path) -> None:
    from agent.engines.base import ChatOptions, final
    from agent.engines.llama_load import load_llama
    from agent.engines.llamacpp import LlamaCppEngine
    from agent.messages import Message, ToolCall, ToolSpec

    note = ToolSpec(
        name="write_note",
        description="Write a note.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    )
    engine = LlamaCppEngine(load_llama(gemma_path, n_ctx=4096), "gemma")
    earlier = ToolCall(id="c1", name="write_note", arguments={"text": "ab " * 40})
    messages = [
        Message.system("You write notes."),
        Message.user("Write the note."),
        Message(role="assistant", content="", tool_calls=[earlier]),
        Message.tool_result(earlier, "saved"),
        Message.user("Write it again, longer."),  # a base model copies the pattern on and on
    ]
    done = final(engine.chat(messages, [note], ChatOptions(tool_choice="required", max_tokens=600)))
    [call] = done.message.tool_calls
    assert call.parse_error and "repeated 'ab' over and over" in call.parse_error
    assert done.usage.generated_tokens < 300  # stopped soon after the loop was sure, not at 600
