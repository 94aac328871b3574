"""Rendering a conversation with the model's own chat template (from the GGUF metadata).

Templates that know about tools get them natively (OpenAI-shaped messages, arguments as dicts);
others get our compact Hermes tool block in the system message, calls rendered as text and tool
results as user turns. The rendering of a past turn never changes, so prompts are append-only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

import prompts
from agent.messages import Message, ToolSpec
from agent.toolcalls import render_calls

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class ChatTemplateError(Exception):
    """The model's chat template failed to render the conversation."""


def _tojson(
    value: Any,
    indent: int | None = None,
    ensure_ascii: bool = False,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys, separators=separators
    )


def _raise(message: str) -> None:
    raise TemplateError(message)


def _environment() -> ImmutableSandboxedEnvironment:
    """The environment Hugging Face renders chat templates in (same whitespace rules and helpers)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: dt.datetime.now().strftime(fmt)
    return env


class ChatTemplate:
    """A model's chat template (ChatML when the model has none), rendering our `Message`s."""

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self.source = template or CHATML
        self.bos_token = bos_token
        self.eos_token = eos_token
        try:
            self._template = _environment().from_string(self.source)
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template does not compile: {exc}") from exc
        # Templates that take `tools` render them and the calls natively (Qwen2.5, Hermes...).
        self.supports_tools = "tools" in self.source and "tool_call" in self.source

    def render(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], add_generation_prompt: bool = True
    ) -> str:
        if self.supports_tools:
            shaped = [_native(m) for m in messages]
            tool_list = [t.openai() for t in tools] or None
        else:
            shaped = _as_text_turns(messages, tools)
            tool_list = None
        try:
            return self._template.render(
                messages=shaped,
                tools=tool_list,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template failed: {exc}") from exc


def _native(message: Message) -> dict[str, Any]:
    shaped: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        shaped["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        shaped["tool_call_id"] = message.tool_call_id
        shaped["name"] = message.name
    return shaped


def _as_text_turns(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """For templates without tool support: plain alternating turns carrying calls as text."""
    turns: list[dict[str, Any]] = []
    if tools and (not messages or messages[0].role != "system"):
        turns.append({"role": "system", "content": tools_block(tools)})
    for message in messages:
        role, content = message.role, message.content
        if role == "system" and tools and message is messages[0]:
            content = f"{content}\n\n{tools_block(tools)}" if content else tools_block(tools)
        elif role == "assistant" and message.tool_calls:
            calls = render_calls(message.tool_calls)
            content = f"{content}\n{calls}" if content else calls
        elif role == "tool":
            role, content = "user", f"<tool_response>\n{content}\n</tool_response>"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n" + content
        else:
            turns.append({"role": role, "content": content})
    return turns


def tools_block(tools: Sequence[ToolSpec]) -> str:
    """Our Hermes tool instructions: one compact JSON line per tool (name, description, schema)."""
    lines = [
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": t.parameters},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for t in tools
    ]
    return prompts.render("tools_hermes", tools=lines)
