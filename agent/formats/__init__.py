"""Tool-call wire formats by model family; `get_format` by name, `FORMAT_NAMES` lists them.

The embedded engine finds a model's format by rendering a probe conversation with the model's own
chat template (`agent.engines.chat_template.ChatTemplate.format`); config can name one instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

from agent.formats.base import ParsedReply, ToolCallFormat, split_reasoning
from agent.formats.glm import GLMFormat
from agent.formats.hermes import HermesFormat
from agent.formats.json_fallback import JSONFormat
from agent.formats.llama3 import Llama3Format
from agent.formats.mistral import MistralFormat
from agent.formats.qwen3_coder import Qwen3CoderFormat
from agent.messages import ToolSpec

_FACTORIES: dict[str, Callable[[], ToolCallFormat]] = {
    "hermes": HermesFormat,
    "glm45": lambda: GLMFormat(newlines=True),
    "glm47": lambda: GLMFormat(newlines=False),
    "qwen3_coder": Qwen3CoderFormat,
    "llama3": Llama3Format,
    "mistral": lambda: MistralFormat(named=False),
    "mistral_v11": lambda: MistralFormat(named=True),
    "json": JSONFormat,
}
ToolFormatName = Literal[
    "hermes", "glm45", "glm47", "qwen3_coder", "llama3", "mistral", "mistral_v11", "json"
]
FORMAT_NAMES: tuple[str, ...] = get_args(ToolFormatName)


class UnknownFormat(ValueError):
    """A configured tool-call format name that does not exist."""


def get_format(name: str) -> ToolCallFormat:
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise UnknownFormat(
            f"unknown tool-call format {name!r}; choose one of: {', '.join(FORMAT_NAMES)}"
        ) from None


def sniff_format(text: str) -> ToolCallFormat | None:
    """The format whose distinctive markers a reply uses, when a model's format is not known."""
    markers = (
        ("<function=", "qwen3_coder"),
        ("<arg_key>", "glm47"),
        ("<tool_call>", "hermes"),
        ("[TOOL_CALLS]", "mistral_v11"),
        ("<|python_tag|>", "llama3"),
        ('"parameters"', "llama3"),
        ('"name"', "json"),
        ("'name'", "json"),
    )
    return next((get_format(name) for marker, name in markers if marker in text), None)


def parse_any(text: str, tools: Sequence[ToolSpec], thinking_open: bool = False) -> ParsedReply:
    """A reply in whichever known format it uses (plain text when it holds no call)."""
    fmt = sniff_format(split_reasoning(text, thinking_open)[1])
    if fmt is None:
        thinking, rest = split_reasoning(text, thinking_open)
        return ParsedReply(content=rest.strip(), thinking=thinking)
    reply = fmt.parse(text, tools, thinking_open)
    if not reply.calls and fmt.name == "llama3":  # "parameters" was only a word in the text
        return JSONFormat().parse(text, tools, thinking_open)
    return reply


__all__ = [
    "FORMAT_NAMES",
    "ParsedReply",
    "ToolCallFormat",
    "ToolFormatName",
    "UnknownFormat",
    "get_format",
    "parse_any",
    "sniff_format",
    "split_reasoning",
]
