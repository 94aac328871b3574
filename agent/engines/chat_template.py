"""Rendering a conversation with the model's own chat template (from the GGUF metadata).

Templates that know about tools get them natively (OpenAI-shaped messages, arguments as dicts,
reasoning as `reasoning_content`), and the model's tool-call format is found by rendering a probe
call through the template. Other templates get our compact tool block (Hermes format) in the
system message, calls rendered as text and tool results as user turns. The rendering of a past
turn never changes, so prompts are append-only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.formats import ToolCallFormat, get_format
from agent.formats.glm import GLMFormat
from agent.formats.hermes import HermesFormat
from agent.formats.json_fallback import JSONFormat
from agent.formats.llama3 import Llama3Format
from agent.formats.mistral import MistralFormat
from agent.formats.qwen3_coder import Qwen3CoderFormat
from agent.messages import Message, ToolCall, ToolSpec

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
    """A model's chat template (ChatML when the model has none), rendering our `Message`s.

    `format` is the model's tool-call format; `native` says whether the template renders tools
    and calls itself. `variables` are extra template variables (`enable_thinking`,
    `clear_thinking`...), passed on every render.
    """

    @classmethod
    def of_model(cls, llama: Any, tool_format: str | None, variables: dict[str, Any]) -> ChatTemplate:
        """The template in a loaded GGUF's metadata, with its BOS and EOS tokens' text."""

        def token_text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return str(llama.detokenize([token_id], special=True).decode("utf-8", errors="replace"))

        return cls(
            llama.metadata.get("tokenizer.chat_template"),
            bos_token=token_text(llama.token_bos()),
            eos_token=token_text(llama.token_eos()),
            tool_format=tool_format,
            variables=variables,
        )

    def __init__(
        self,
        template: str | None,
        bos_token: str = "",
        eos_token: str = "",
        tool_format: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.source = template or CHATML
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.variables = dict(variables or {})
        try:
            self._template = _environment().from_string(self.source)
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template does not compile: {exc}") from exc
        probed = self._probe()
        self.native = probed is not None
        self.parallel_calls = not self.native or self._renders_two_calls()
        self.format: ToolCallFormat = get_format(tool_format) if tool_format else probed or HermesFormat()

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        add_generation_prompt: bool = True,
    ) -> str:
        if self.native:
            shaped = [_native(m) for m in messages]
            tool_list = [t.openai() for t in tools] or None
        else:
            shaped = _as_text_turns(messages, tools, self.format)
            tool_list = None
        return self._render(shaped, tool_list, add_generation_prompt)

    def _render(
        self,
        shaped: list[dict[str, Any]],
        tool_list: list[dict[str, Any]] | None,
        add_generation_prompt: bool,
    ) -> str:
        try:
            return self._template.render(
                messages=shaped,
                tools=tool_list,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                **self.variables,
            )
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template failed: {exc}") from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ChatTemplateError(f"the model's chat template failed: {type(exc).__name__}: {exc}") from exc

    def _probe(self) -> ToolCallFormat | None:
        """The format the template renders a call in, or None when it renders no tools itself."""
        tool = _probe_tool()
        call = ToolCall(id="call00000", name=PROBE_TOOL, arguments={PROBE_KEY: PROBE_VALUE})
        conversation = [
            Message.system("You are a helpful assistant."),
            Message.user("Use the tool."),
            Message(role="assistant", content="", tool_calls=[call]),
            Message.tool_result(call, "done"),
        ]
        try:
            text = self._render([_native(m) for m in conversation], [tool.openai()], True)
        except ChatTemplateError:
            return None
        if PROBE_DESCRIPTION not in text:
            return None  # the template ignores `tools`: the model never sees them
        return format_of_rendered_call(text)

    def _renders_two_calls(self) -> bool:
        """Whether the template keeps a second call in one reply (Llama 3.1's takes one, or raises)."""
        tool = _probe_tool()
        calls = [
            ToolCall(id=f"call0000{i}", name=PROBE_TOOL, arguments={PROBE_KEY: value})
            for i, value in enumerate((PROBE_VALUE, SECOND_PROBE_VALUE))
        ]
        conversation = [
            Message.user("Use the tool twice."),
            Message(role="assistant", content="", tool_calls=calls),
            *(Message.tool_result(call, "done") for call in calls),
        ]
        try:
            text = self._render([_native(m) for m in conversation], [tool.openai()], True)
        except ChatTemplateError:
            return False
        return SECOND_PROBE_VALUE in text


def _probe_tool() -> ToolSpec:
    return ToolSpec(name=PROBE_TOOL, description=PROBE_DESCRIPTION, parameters=PROBE_SCHEMA)


SECOND_PROBE_VALUE = "second probe value"
PROBE_TOOL, PROBE_KEY, PROBE_VALUE = "probe_tool", "probe_key", "probe value"
PROBE_DESCRIPTION = "Probe tool: finds the template's tool-call format."
PROBE_SCHEMA = {"type": "object", "properties": {PROBE_KEY: {"type": "string"}}}


def format_of_rendered_call(text: str) -> ToolCallFormat | None:
    """Which family's wire format a rendered probe call (`probe_tool`, one string argument) is in."""
    json_name = f'"name": "{PROBE_TOOL}"'
    if f"<arg_key>{PROBE_KEY}</arg_key>" in text:
        return GLMFormat(newlines=f"{PROBE_TOOL}\n<arg_key>" in text)
    if f"<function={PROBE_TOOL}>" in text:
        return Qwen3CoderFormat()
    if "[TOOL_CALLS]" in text:
        return MistralFormat(named=f"{PROBE_TOOL}[ARGS]" in text or f"{PROBE_TOOL}[CALL_ID]" in text)
    if "<tool_call>" in text and json_name in text:
        return HermesFormat()
    if json_name in text and '"parameters"' in text:
        return Llama3Format()
    if json_name in text:
        return JSONFormat()
    return None


def _native(message: Message) -> dict[str, Any]:
    shaped: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.thinking:
        shaped["reasoning_content"] = message.thinking
    if message.tool_calls:
        shaped["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        shaped["tool_call_id"] = message.tool_call_id
        shaped["name"] = message.name
    return shaped


def _as_text_turns(
    messages: Sequence[Message], tools: Sequence[ToolSpec], fmt: ToolCallFormat
) -> list[dict[str, Any]]:
    """For templates without tool support: plain alternating turns carrying calls as text."""
    turns: list[dict[str, Any]] = []
    block = fmt.tools_block(tools) if tools else ""
    if tools and (not messages or messages[0].role != "system"):
        turns.append({"role": "system", "content": block})
    for message in messages:
        role, content = message.role, message.content
        if role == "system" and tools and message is messages[0]:
            content = f"{content}\n\n{block}" if content else block
        elif role == "assistant" and message.tool_calls:
            calls = fmt.render_calls(message.tool_calls)
            content = f"{content}\n{calls}" if content else calls
        elif role == "tool":
            role, content = "user", f"<tool_response>\n{content}\n</tool_response>"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n" + content
        else:
            turns.append({"role": role, "content": content})
    return turns
