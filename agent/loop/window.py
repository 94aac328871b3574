"""Whether the prompt fits the model's context window, and compaction when it no longer does.

Nothing is cut silently: the run refuses to start when the first prompt and one reply cannot fit,
and later the oldest tool outputs are cut to their first line until the prompt fits, and it is said.
"""

from __future__ import annotations

from agent.engines.base import Engine
from agent.loop.errors import ContextTooSmall, LimitsExceeded
from agent.loop.state import Run
from agent.messages import Message, ToolSpec

ELIDED = "elided to fit the context window; call the tool again if you need them]"


def check_fits(engine: Engine, specs: list[ToolSpec], messages: list[Message], reply_tokens: int) -> None:
    """Refuse to start when the first prompt plus one reply cannot fit the context window."""
    needed = engine.count_tokens(messages, specs) + reply_tokens
    if needed > engine.context_length:
        raise ContextTooSmall(
            f"the system prompt, the {len(specs)} tool schemas and the task need {needed} tokens "
            f"with room for one reply, but the model's context window is {engine.context_length}: "
            f"raise --ctx to at least {needed} (or shorten the task)"
        )


def compact(run: Run, engine: Engine, specs: list[ToolSpec], reserve: int) -> None:
    """Make the conversation fit the window with `reserve` tokens to spare: the oldest tool outputs
    are cut to their first line (the task, the plan and the latest exchange are always kept)."""
    messages = run.state.messages
    limit = engine.context_length - reserve
    if engine.count_tokens(messages, specs) <= limit:
        return
    elided = 0
    for message in messages[2:-2]:
        if message.role == "tool" and not message.content.endswith(ELIDED):
            first, _, rest = message.content.partition("\n")
            message.content = f"{first[:200]}\n[{rest.count(chr(10)) + 1} lines {ELIDED}"
            elided += 1
            if engine.count_tokens(messages, specs) <= limit:
                break
    if engine.count_tokens(messages, specs) > limit:
        raise LimitsExceeded("context_full", "the conversation no longer fits the model's context window")
    run.notice(f"context compacted: {elided} older tool outputs cut to their first line to fit the window")
