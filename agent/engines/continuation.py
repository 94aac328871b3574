"""Where the next token of a reply goes, in the chat template's own text.

A turn is decoded in passes (free text, each constrained call, a look for another call); each pass
starts from the prompt plus the reply so far as the template would render it back, so the next
turn's prompt extends this one's and llama.cpp reuses its KV cache. That text is found by rendering
the conversation with a stand-in text (or call) through the template; a template whose rendering
does not extend the generation prompt gets a plain join.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.engines.turn import Turn
from agent.formats import ToolCallFormat
from agent.messages import ToolCall

# Stand-ins rendered through the template to find where the next call's body or text goes.
SENTINEL_TOOL = "sentinel_tool_7f3a"
SENTINEL_TEXT = "\u2063sentinel\u2063"

Render = Callable[..., str]  # (messages, tools, generation=...) -> the template's text


def continuation(render: Render, fmt: ToolCallFormat, turn: Turn, next_call: bool) -> str:
    """The template's own text of the reply so far, up to where more text (or the next call's body) goes."""
    if next_call:
        sentinel = ToolCall(id=fmt.call_id(len(turn.calls)), name=SENTINEL_TOOL, arguments={})
        message = turn.message(extra_calls=[sentinel])
    else:
        message = turn.message(extra_content=SENTINEL_TEXT)
    full = render([*turn.messages, message], turn.tools, generation=False)
    if full.startswith(turn.prompt_text):
        suffix = full[len(turn.prompt_text) :]
        if not next_call and (at := suffix.find(SENTINEL_TEXT)) != -1:
            return suffix[:at]
        at = suffix.find(SENTINEL_TOOL)
        opener_at = suffix.rfind(fmt.opener, 0, at) if at != -1 else -1
        if next_call and opener_at != -1:
            return suffix[: opener_at + len(fmt.opener)]
    return plain_continuation(fmt, turn, next_call)


def plain_continuation(fmt: ToolCallFormat, turn: Turn, next_call: bool) -> str:
    reasoning = ""
    if turn.thinking:
        reasoning = (
            f"{turn.thinking}</think>\n" if turn.thinking_open else f"<think>{turn.thinking}</think>\n"
        )
    elif turn.thinking_open:
        reasoning = "</think>\n"
    parts = [p for p in (turn.content, fmt.render_calls(turn.calls)) if p]
    text = reasoning + "\n".join(parts)
    return f"{text}\n{fmt.opener}" if next_call and parts else text + (fmt.opener if next_call else "")
