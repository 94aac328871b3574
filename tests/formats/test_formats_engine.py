"""Every wire format end to end: found from the chat template, rendered and parsed back, its call
grammar accepting the canonical call, and the real engine (270M model) making valid calls in it
turn after turn with the KV cache reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.engines.base import ChatOptions, final
from agent.engines.chat_template import ChatTemplate
from agent.engines.constrain import TokenMasker
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import BUDGET_STOPS, LlamaCppEngine
from agent.formats import FORMAT_NAMES, get_format
from agent.messages import Message, ToolCall
from tests.templates import BY_FORMAT
from tests.toolcalls import CALLS, READ, SCHEMAS, TOOLS


@pytest.mark.parametrize("name", sorted(BY_FORMAT))
def test_the_chat_template_reveals_its_format(name: str) -> None:
    template = ChatTemplate(BY_FORMAT[name])
    assert template.native and template.format.name == name


def test_a_template_without_tools_falls_back_to_our_tool_block() -> None:
    template = ChatTemplate("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}")
    assert not template.native and template.format.name == "hermes"
    assert '"name":"read_file"' in template.render([Message.user("hi")], [READ])


@pytest.mark.parametrize("name", FORMAT_NAMES)
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
def test_a_rendered_call_parses_back(name: str, call: ToolCall) -> None:
    fmt = get_format(name)
    reply = fmt.parse_calls("Let me look.\n" + fmt.render_call(call), TOOLS)
    assert reply.content == "Let me look."
    assert [(c.name, c.arguments, c.parse_error) for c in reply.calls] == [(call.name, call.arguments, None)]


@pytest.fixture(scope="module")
def llama(gemma_path: Path) -> Any:
    return load_llama(gemma_path, n_ctx=8192)  # a base model may think up to its budget every turn


@pytest.mark.model
@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_the_call_grammar_accepts_exactly_the_canonical_call(llama: Any, name: str) -> None:
    import llguidance

    fmt = get_format(name)
    masker = TokenMasker(llama)
    for call in CALLS:
        body = fmt.render_call(call)[len(fmt.opener) :]
        matcher = llguidance.LLMatcher(
            masker.tokenizer, llguidance.grammar_from("lark", fmt.body_grammar(TOOLS).lark)
        )
        tokens = masker.tokenizer.greedy_tokenize(body)  # text tokens only (no tag-like special tokens)
        assert matcher.consume_tokens(tokens), (name, call.name, matcher.get_error())
        assert matcher.is_accepting(), (name, call.name)
        broken = llguidance.LLMatcher(
            masker.tokenizer, llguidance.grammar_from("lark", fmt.body_grammar(TOOLS).lark)
        )
        wrong = list(
            llama.tokenize(body.replace(call.name, "rm_rf", 1).encode(), add_bos=False, special=False)
        )
        assert not (broken.consume_tokens(wrong) and broken.is_accepting())


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(BY_FORMAT))
def test_turn_after_turn_every_call_validates_and_the_cache_is_reused(llama: Any, name: str) -> None:
    engine = LlamaCppEngine(
        llama, "gemma", template=ChatTemplate(BY_FORMAT[name], variables={"clear_thinking": False})
    )
    assert engine.format.name == name
    messages = [Message.system("You fix bugs with tools."), Message.user("Fix the median of an even list.")]
    options = ChatOptions(tool_choice="required", max_tokens=96)
    replied = 0  # tokens of the conversation through the last reply: the part the cache can hold
    cut_before = False  # a call cut off by a budget re-renders without its raw text: the cache differs there
    for turn in range(4):
        done = final(engine.chat(messages, TOOLS, options))
        calls = done.message.tool_calls
        assert calls, f"turn {turn}: no call"
        for call in calls:
            if call.parse_error and call.parse_error.startswith(BUDGET_STOPS):  # the limit, or the loop guard
                continue  # a base model may ramble inside a string: reported, not broken
            assert call.parse_error is None, call.parse_error
            jsonschema.validate(call.arguments, SCHEMAS[call.name])
        if turn and not cut_before:  # only what came after the last reply is evaluated again
            # (+ turn-end markers), and each pass inside the turn (a call, the look for another)
            # a few tokens at its seam
            new = done.usage.prompt_tokens - replied
            seams = 8 * (1 + 2 * len(calls))  # the text pass, then per call: the call, the look for more
            assert done.usage.prefilled_tokens <= new + seams, (turn, done.usage.prefilled_tokens, new)
        cut_before = any(c.parse_error and c.parse_error.startswith(BUDGET_STOPS) for c in calls)
        messages.append(done.message)
        replied = len(engine._prompt_tokens(engine._render_text(messages, TOOLS, generation=False)))
        messages += [Message.tool_result(c, f"result of {c.name}: ok") for c in calls]


def test_every_format_name_has_a_format_and_the_config_accepts_it() -> None:
    from agent.config import AgentConfig

    assert {get_format(name).name for name in FORMAT_NAMES} == set(FORMAT_NAMES)
    assert AgentConfig(tool_format="glm47").engine.tool_format == "glm47"
    with pytest.raises(ValueError, match="tool_format"):
        AgentConfig(tool_format="glm")
