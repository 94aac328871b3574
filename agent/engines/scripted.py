"""`ScriptedEngine`: replays recorded assistant turns. For deterministic tests and demos only.

A script is a JSON list; each item is one assistant turn, either
  {"text": "...", "tool_calls": [{"name": "read_file", "arguments": {"path": "x.py"}}]}
where `arguments` may also be a string (sent to the loop as-is: bad JSON stays bad), or
  {"raw": "<model output in a model family's wire format (Hermes, GLM, Qwen3-Coder...)>"}
which is parsed exactly like a served model's output, so malformed output can be replayed.
A turn may also take time as a model on a slow CPU does: `prefill_seconds` spent on its prompt
(reported in chunks of `PREFILL_CHUNK` tokens, as the embedded engine does) and its text streamed
word by word at `tokens_per_second`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.engines.base import ChatOptions, EngineError
from agent.engines.paced import pieces
from agent.events import ChatDone, EngineEvent, PrefillProgress, TextDelta, ToolCallEvent, Usage, UsageEvent
from agent.formats import parse_any
from agent.formats.jsonrepair import loads_bounded
from agent.messages import Message, ToolCall, ToolSpec


class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = {}


class ScriptedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool_calls: list[ScriptedCall] = []
    raw: str | None = None
    prefill_seconds: float = 0.0  # the turn's prompt takes this long to evaluate
    tokens_per_second: float = 0.0  # its text streams word by word at this rate (0: at once)
    cut: bool = False  # the reply ran out of tokens (finish_reason "length"), as a real engine says


PREFILL_CHUNK = 512  # tokens per reported prefill chunk (llama.cpp's default batch)


def _to_call(scripted: ScriptedCall) -> ToolCall:
    call_id = "pending"
    if isinstance(scripted.arguments, dict):
        return ToolCall(id=call_id, name=scripted.name, arguments=scripted.arguments)
    try:
        parsed = loads_bounded(scripted.arguments)
    except ValueError as exc:  # not JSON, or JSON nested too deep
        return ToolCall(
            id=call_id,
            name=scripted.name,
            raw_arguments=scripted.arguments,
            parse_error=f"arguments are not valid JSON: {exc}",
        )
    if not isinstance(parsed, dict):
        return ToolCall(
            id=call_id,
            name=scripted.name,
            raw_arguments=scripted.arguments,
            parse_error="arguments must be a JSON object",
        )
    return ToolCall(id=call_id, name=scripted.name, arguments=parsed)


class ScriptedEngine:
    """Replays `turns` in order; when the script runs out it answers with plain text."""

    def __init__(
        self, turns: Sequence[ScriptedTurn], model_name: str = "script", context_length: int = 1_000_000
    ) -> None:
        self._turns = list(turns)
        self._context_length = context_length
        self._next = 0
        self._calls_made = 0
        self._model = model_name

    @classmethod
    def from_file(cls, path: Path) -> ScriptedEngine:
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EngineError(f"cannot read script {path}: {exc}") from exc
        return cls([ScriptedTurn.model_validate(item) for item in items], model_name=path.name)

    @property
    def name(self) -> str:
        return "scripted"

    @property
    def model(self) -> str:
        return self._model

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def samples(self) -> bool:
        return False  # a replay answers the same whatever the temperature: no draws from it

    @property
    def tool_format(self) -> str:
        return "hermes"  # `raw` turns are parsed in whichever format they use

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        chars = sum(len(m.content) + len(m.thinking) for m in messages)
        return chars // 4 + sum(len(json.dumps(t.parameters)) // 4 for t in tools)

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        turn = (
            self._turns[self._next] if self._next < len(self._turns) else ScriptedTurn(text="(end of script)")
        )
        self._next += 1
        text, calls = self._materialise(turn, tools)
        if options.tool_choice == "none":
            calls = []
        written: list[str] = []
        ended = False
        if turn.prefill_seconds > 0:
            prompt = self.count_tokens(messages, tools)
            ended = yield from _slow_prefill(prompt, turn.prefill_seconds, options)
        if text and not ended:
            ended = yield from _text(text, turn.tokens_per_second, options, written)
        text = "".join(written) if ended else text
        calls = [] if ended else calls  # as a real engine does at its deadline: the reply so far, no calls
        for call in calls:
            yield ToolCallEvent(call=call)
        usage = Usage(
            prompt_tokens=self.count_tokens(messages, tools),
            generated_tokens=max(1, len(text) // 4),
        )
        yield UsageEvent(usage=usage)
        message = Message(role="assistant", content=text, tool_calls=calls)
        finish = "deadline" if ended else "tool_calls" if calls else "length" if turn.cut else "stop"
        yield ChatDone(message=message, usage=usage, finish_reason=finish)

    def _materialise(self, turn: ScriptedTurn, tools: Sequence[ToolSpec]) -> tuple[str, list[ToolCall]]:
        if turn.raw is not None:
            reply = parse_any(turn.raw, tools)
            text, calls = reply.content, reply.calls
        else:
            text, calls = turn.text, [_to_call(scripted) for scripted in turn.tool_calls]
        numbered = []
        for call in calls:
            numbered.append(call.model_copy(update={"id": f"call_{self._calls_made}"}))
            self._calls_made += 1
        return text, numbered


def _slow_prefill(
    tokens: int, seconds: float, options: ChatOptions
) -> Generator[PrefillProgress, None, bool]:
    """The prompt evaluated chunk by chunk; True when the deadline came first."""
    total = max(tokens, 1)
    chunks = math.ceil(total / PREFILL_CHUNK)
    for chunk in range(1, chunks + 1):
        if _sleep(seconds / chunks, options):
            return True
        yield PrefillProgress(done=min(chunk * PREFILL_CHUNK, total), total=total)
    return options.past_deadline()


def _text(
    text: str, tokens_per_second: float, options: ChatOptions, written: list[str]
) -> Generator[TextDelta, None, bool]:
    """The text, streamed piece by piece into `written`; True when the deadline came first."""
    if tokens_per_second <= 0:
        written.append(text)
        yield TextDelta(text=text)
        return False
    for piece in pieces(text):
        if _sleep(1.0 / tokens_per_second, options):
            return True
        written.append(piece)
        yield TextDelta(text=piece)
    return False


def _sleep(seconds: float, options: ChatOptions) -> bool:
    """Wait `seconds`, or until the deadline (True), as a real engine stops between batches."""
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        if options.past_deadline():
            return True
        time.sleep(min(left, 0.05))
    return options.past_deadline()
