"""Rendering conversations with a model's own chat template (or ChatML), tools native or as text."""

from __future__ import annotations

import json

import pytest

from agent.engines.chat_template import ChatTemplate, ChatTemplateError
from agent.formats.hermes import HermesFormat
from agent.messages import Message, ToolCall, ToolSpec

READ = ToolSpec(
    name="read_file",
    description="Show a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
CALL = ToolCall(id="call_0", name="read_file", arguments={"path": "a.py"})

# A small tool-aware template in the style of Qwen2.5's (tools listed, calls rendered from dicts).
NATIVE = (
    "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}\n{% endfor %}</tools>\n{% endif %}"
    "{% for m in messages %}[{{ m.role }}]"
    "{% if m.content %}{{ m.content }}{% endif %}"
    "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function.arguments | tojson }}"
    "{{ c.function.name }}</tool_call>{% endfor %}"
    "{% if m.role == 'tool' %}({{ m.tool_call_id }}){% endif %}\n"
    "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
)


def conversation() -> list[Message]:
    return [
        Message.system("You fix bugs."),
        Message.user("Read a.py"),
        Message(role="assistant", content="Reading.", tool_calls=[CALL]),
        Message.tool_result(CALL, "x = 1"),
        Message.user("Now fix it."),
    ]


def test_chatml_fallback_puts_tools_in_the_system_message_and_calls_in_the_text() -> None:
    template = ChatTemplate(None)
    assert not template.native
    prompt = template.render(conversation(), [READ])
    assert prompt.startswith("<|im_start|>system\nYou fix bugs.\n\n# Tools\n")
    assert json.dumps(READ.parameters, separators=(",", ":")) in prompt  # one compact line per tool
    assert f"<|im_start|>assistant\nReading.\n{HermesFormat().render_call(CALL)}<|im_end|>" in prompt
    # the tool result and the next user message merge into one user turn
    assert "<|im_start|>user\n<tool_response>\nx = 1\n</tool_response>\nNow fix it.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_tools_get_a_system_message_when_the_conversation_has_none() -> None:
    prompt = ChatTemplate(None).render([Message.user("hi")], [READ])
    assert prompt.startswith("<|im_start|>system\n" + HermesFormat().tools_block([READ]) + "<|im_end|>")


def test_no_tools_no_tool_block() -> None:
    prompt = ChatTemplate(None).render(conversation()[:2], [])
    assert "# Tools" not in prompt and "<tool_call>" not in prompt


def test_native_template_gets_openai_shaped_messages_with_dict_arguments() -> None:
    template = ChatTemplate(NATIVE)
    assert template.native
    prompt = template.render(conversation(), [READ])
    assert json.dumps(READ.openai(), ensure_ascii=False) in prompt
    assert '[assistant]Reading.<tool_call>{"path": "a.py"}read_file</tool_call>' in prompt  # a dict
    assert "[tool]x = 1(call_0)" in prompt
    assert prompt.endswith("[assistant]")


@pytest.mark.parametrize("template", [ChatTemplate(None), ChatTemplate(NATIVE)])
def test_rendering_a_past_turn_never_changes(template: ChatTemplate) -> None:
    """Append-only prompts: a conversation's rendering prefixes the rendering of its extension."""
    long = conversation()
    for cut in (2, 3):  # after the user's request, after the assistant's call
        before = template.render(long[:cut], [READ], add_generation_prompt=False)
        assert template.render(long, [READ]).startswith(before)


def test_hugging_face_helpers_are_available() -> None:
    source = (
        "{{ bos_token }}{% for m in messages %}{% if m.role == 'bad' %}{{ raise_exception('no') }}"
        "{% endif %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content }}{% endfor %}"
        "{{ strftime_now('%Y') | length }}{{ {'a': 1} | tojson(indent=2) }}"
    )
    template = ChatTemplate(source, bos_token="<s>", eos_token="</s>")
    messages = [Message.user("one"), Message(role="assistant", content="two")]
    assert template.render(messages, []) == '<s>one4{\n  "a": 1\n}'


def test_template_failures_are_chat_template_errors() -> None:
    with pytest.raises(ChatTemplateError, match="does not compile"):
        ChatTemplate("{% for %}")
    raising = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        raising.render([Message.user("x")], [])
