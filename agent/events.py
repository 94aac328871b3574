"""Typed events. Engines stream `EngineEvent`s; the loop emits `RunEvent`s.

The trajectory file, the headless JSON output and the TUI all consume these same types;
`RUN_EVENT_ADAPTER` saves and loads them. `SCHEMA_VERSION` versions them as a contract
(docs/events.md; docs/events.schema.json is generated from these models by `agent events --schema`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, computed_field

from agent.formats.jsonrepair import no_surrogates
from agent.messages import Message, ToolCall

# The version of the event schema, carried by `run_started` and `run_finished`. Adding an event
# kind or an optional field keeps it; removing or renaming a field, or changing its meaning or
# type, raises it.
SCHEMA_VERSION = 1


class Usage(BaseModel):
    prompt_tokens: int = 0  # tokens in the prompt of this request
    prefilled_tokens: int = 0  # of those, tokens the engine actually evaluated
    cached_tokens: int = 0  # of those, tokens reused from the KV cache
    generated_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    drafted_tokens: int = 0  # speculative decoding: tokens proposed for verification
    accepted_tokens: int = 0  # of those, tokens the sampler produced too (kept without a decode step)

    @property
    def decode_tokens_per_second(self) -> float:
        """Effective decode speed: every generated token, drafted or not, over the decode time."""
        return self.generated_tokens / self.decode_seconds if self.decode_seconds > 0 else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def acceptance_rate(self) -> float:
        return self.accepted_tokens / self.drafted_tokens if self.drafted_tokens else 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            prefilled_tokens=self.prefilled_tokens + other.prefilled_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            prefill_seconds=self.prefill_seconds + other.prefill_seconds,
            decode_seconds=self.decode_seconds + other.decode_seconds,
            drafted_tokens=self.drafted_tokens + other.drafted_tokens,
            accepted_tokens=self.accepted_tokens + other.accepted_tokens,
        )


# ---- engine stream -------------------------------------------------------------------------


class TextDelta(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class ThinkingDelta(BaseModel):
    kind: Literal["thinking"] = "thinking"
    text: str


class ToolCallEvent(BaseModel):
    kind: Literal["tool_call"] = "tool_call"
    call: ToolCall


class PrefillProgress(BaseModel):
    """The engine has evaluated `done` of the `total` prompt tokens it has to evaluate for this reply
    (the cached ones not counted), one event per chunk: on a slow CPU a prefill takes minutes. The
    loop passes it on as a run event; it is neither written to the trajectory nor to `--json`."""

    kind: Literal["prefill_progress"] = "prefill_progress"
    done: int
    total: int


class UsageEvent(BaseModel):
    kind: Literal["usage"] = "usage"
    usage: Usage


class ChatDone(BaseModel):
    """Always the last event of a chat: the whole assistant message and the request's usage."""

    kind: Literal["done"] = "done"
    message: Message
    usage: Usage
    finish_reason: str = "stop"


EngineEvent = Annotated[
    TextDelta | ThinkingDelta | PrefillProgress | ToolCallEvent | UsageEvent | ChatDone,
    Field(discriminator="kind"),
]


# ---- run events (loop) ---------------------------------------------------------------------


class RunStarted(BaseModel):
    kind: Literal["run_started"] = "run_started"
    schema_version: int = SCHEMA_VERSION  # of these events (agent.events.SCHEMA_VERSION)
    session_id: str
    task: str
    engine: str
    model: str
    branch: str
    worktree: str
    sandbox: str
    setup: str | None = None  # what the setup step runs in (its network named), when there is one


class PlanSet(BaseModel):
    kind: Literal["plan"] = "plan"
    steps: list[str]


class PlanProgress(BaseModel):
    """Plan steps (0-based) ticked so far, by observed progress (see `agent.loop.planning.tick`)."""

    kind: Literal["plan_progress"] = "plan_progress"
    done: list[int]


class StepStarted(BaseModel):
    kind: Literal["step"] = "step"
    step: int


class ModelText(BaseModel):
    kind: Literal["model_text"] = "model_text"
    text: str
    thinking: str = ""


class ModelDelta(BaseModel):
    """A streamed piece of model output (not written to the trajectory, too chatty)."""

    kind: Literal["model_delta"] = "model_delta"
    text: str
    thinking: bool = False


class ToolStarted(BaseModel):
    kind: Literal["tool_started"] = "tool_started"
    call: ToolCall


class ToolFinished(BaseModel):
    kind: Literal["tool_finished"] = "tool_finished"
    call_id: str
    name: str
    ok: bool
    output: str
    data: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


class ModelError(BaseModel):
    """Something the model did wrong (bad JSON, unknown tool, schema violation...)."""

    kind: Literal["model_error"] = "model_error"
    category: str
    message: str


class TurnUsage(BaseModel):
    kind: Literal["usage"] = "usage"
    step: int
    usage: Usage
    context_tokens: int = 0
    context_budget: int = 0


class Notice(BaseModel):
    kind: Literal["notice"] = "notice"
    level: Literal["info", "warning", "error"] = "info"
    message: str


class IndexProgress(BaseModel):
    """The repository index has parsed `done` of the `total` bytes of new content it has to parse
    (agent/context/index.py), a few times a second: on a large repository the first build takes a
    while. Live only, as `PrefillProgress`: neither in the trajectory nor in `--json`."""

    kind: Literal["index_progress"] = "index_progress"
    done: int
    total: int


class InterpreterFound(BaseModel):
    """The interpreter the tests run with, found before the first model call (agent/repo/python_env.py).
    `problem` set: no environment can run the tests; it says why and names the fix."""

    kind: Literal["test_env"] = "test_env"
    interpreter: str | None
    source: str | None  # flag, config, setup, virtual_env, venv, uv, poetry, hatch, tox, path, agent
    pytest: bool
    problem: str | None = None
    tried: list[str] = []


class UserGuidance(BaseModel):
    """Guidance the user sent during the run, as the loop handed it to the model."""

    kind: Literal["guidance"] = "guidance"
    text: str


class Interrupted(BaseModel):
    """The user interrupted the model; the loop is paused until guidance (or a stop) arrives."""

    kind: Literal["interrupted"] = "interrupted"
    step: int
    partial_text: str = ""


class RunFinished(BaseModel):
    """The last event of every run. `exit_code` and `error` are set on the headless `--json` stream
    (also when the run never started: a usage or engine error); older trajectories lack them."""

    kind: Literal["run_finished"] = "run_finished"
    schema_version: int = SCHEMA_VERSION  # of these events (agent.events.SCHEMA_VERSION)
    report: dict[str, Any]
    exit_code: int | None = None  # the command's exit code (agent/run/exitcodes.py)
    error: str | None = None  # what went wrong, when something did


RunEvent = Annotated[
    RunStarted
    | PlanSet
    | PlanProgress
    | StepStarted
    | ModelText
    | ModelDelta
    | PrefillProgress
    | IndexProgress
    | ToolStarted
    | ToolFinished
    | ModelError
    | TurnUsage
    | Notice
    | InterpreterFound
    | UserGuidance
    | Interrupted
    | RunFinished,
    Field(discriminator="kind"),
]

RUN_EVENT_ADAPTER: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)


# Events for whoever watches the run as it happens (streamed text, prefill and index progress):
# too chatty for the trajectory and the `--json` stream, which leave them out.
LIVE_ONLY_EVENTS: tuple[type[BaseModel], ...] = (ModelDelta, PrefillProgress, IndexProgress)


def live_only(event: RunEvent) -> bool:
    return isinstance(event, LIVE_ONLY_EVENTS)


def printable(event: RunEvent) -> RunEvent:
    """The event with every lone surrogate replaced by U+FFFD, for when it cannot be encoded as JSON
    (a model's text or a file name holding one must not end the run)."""
    return RUN_EVENT_ADAPTER.validate_python(no_surrogates(RUN_EVENT_ADAPTER.dump_python(event)))


ENGINE_EVENT_ADAPTER: TypeAdapter[EngineEvent] = TypeAdapter(EngineEvent)
