"""The run object: what a run may spend (`Budgets`), what it knows (`LoopState`), and `Run`, the
state, budgets, events and clock that the loop's helpers share.

`LoopState` is also what the run hands back: fix.py reports from it. Its three records belong
each to one helper: `tests` to checks.py, `calls` to repeats.py, `draws` to sampling.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agent.config import LoopConfig, RepairConfig, ReproduceConfig
from agent.events import ModelError, Notice, PlanProgress, RunEvent, StepStarted, ToolFinished, Usage
from agent.loop.base import Outcome
from agent.loop.errors import LimitsExceeded, StopRun
from agent.loop.suite_runs import failing_count
from agent.messages import Message, ToolCall

if TYPE_CHECKING:
    from agent.loop.repair import RepairResult
    from agent.loop.reproduce import ReproResult

Emit = Callable[[RunEvent], None]
ALL_TESTS = json.dumps({})  # the test selection of a whole-suite run


class RepairBudget(RepairConfig):
    """What the repair phase (repair.py) may spend: the user's repair settings (`mode`, `drafts`,
    `share`: agent/config.py) and the phase's own knobs."""

    per_round: int = 3  # replies drawn before the closest draft is fed back
    temperature: float = 0.8  # every reply but the first (greedy)
    max_tokens: int = 640
    # a reply needs about this long; the phase does not start one with less time left
    min_seconds: float = 20.0


class ReproBudget(ReproduceConfig):
    """What the reproduction phase (reproduce.py) may spend: the user's settings (`mode`, `drafts`:
    agent/config.py) and the phase's own knobs."""

    share: float = 0.3  # of the time left when the phase starts, at most
    temperature: float = 0.8  # every reply but the first (greedy)
    max_tokens: int = 400
    min_seconds: float = 15.0  # a reply needs about this long
    feedback_rounds: int = 2  # corrections in a row on one thread before a fresh draw
    held_back_drafts: int = 2  # of a second test, of the examples the kept one leaves out (held_back.py)


class Budgets(BaseModel):
    """What a run may spend: the user's loop, repair and reproduce settings (`loop`, `repair`,
    `reproduce`: the config's sections, agent/config.py), and the knobs of the loop's checks,
    attempts and sampling."""

    loop: LoopConfig = LoopConfig()  # max_steps, max_minutes, max_tokens (prefilled + generated), ...
    repair: RepairBudget = RepairBudget()
    reproduce: ReproBudget = ReproBudget()
    max_repeats: int = 4  # times one call may be made with no change to the code in between
    # After a repeated call the next turn samples at this temperature: a greedy model given the
    # same context makes the same call again, whatever the nudge says.
    unstick_temperature: float = 0.7
    max_idle_turns: int = 3  # consecutive turns without any tool call
    attempt_min_seconds: float = 60.0  # a new attempt needs at least this much time left
    # An attempt whose edits, tested one by one, leave as many tests failing as its best so far
    # this many times in a row is stuck too (the models kept piling changes onto a wrong fix)
    max_stale_edits: int = 3
    # A draw that repeats an edit already tried on the code (or an earlier draw of the turn) makes
    # the next replies hotter, until an edit goes on: each such draw adds `draw_heat` to the
    # temperature (up to `max_draw_temperature`) and halves the sampling floor (min_p, from
    # `draw_min_p`). The 1.5B model sent one call four draws in a row at 0.7: its floor left no
    # other token to sample at most places, whatever the temperature.
    draw_heat: float = 0.2
    max_draw_temperature: float = 1.1
    draw_min_p: float = 0.05
    # Lines where the tried edits changed nothing in this many set-off turns on the same code are
    # closed to edits (grounded old text cannot hold them) until the code changes. The 1.5B model
    # edited one line draw after draw, attempt after attempt, while the bug sat two lines up.
    # 0: never.
    bar_after_set_offs: int = 2
    plan_max_tokens: int = 160
    turn_max_tokens: int = 768

    @classmethod
    def of(cls, loop: LoopConfig, repair: RepairConfig, reproduce: ReproduceConfig | None = None) -> Budgets:
        """A run's budgets from the config's loop, repair and reproduce sections; the loop's own
        knobs as they are."""
        reproduce = reproduce or ReproduceConfig()
        return cls(
            loop=loop,
            repair=RepairBudget.model_validate(repair.model_dump(by_alias=True)),
            reproduce=ReproBudget.model_validate(reproduce.model_dump(by_alias=True)),
        )

    @property
    def max_seconds(self) -> float:
        return self.loop.max_minutes * 60


@dataclass
class SetAside:
    """An attempt's change, put aside when the attempt got stuck, and its tests (None: not run)."""

    attempt: int
    diff: str
    tests: dict[str, Any] | None


@dataclass
class SuiteRecord:
    """What the tests showed: before any change, and in this attempt (checks.py)."""

    baseline: dict[str, Any] | None = None  # the tests on the code as it was before any change
    tested: dict[str, int] = field(default_factory=dict)  # each version of the code tested -> attempt
    # the rest is this attempt's
    last: dict[str, Any] | None = None  # the last run's data and output
    changed_since: bool = False  # the code changed since the last run
    args: dict[str, Any] = field(default_factory=dict)  # the model's last run_tests arguments
    best_failing: dict[str, float] = field(default_factory=dict)  # per test selection
    stale_edits: int = 0  # edits in a row whose tests did no better than the attempt's best
    finish_refusals: int = 0
    flaky: list[str] = field(default_factory=list)  # failed in one of two runs of the final tree (confirm.py)
    # failed before any change and check the issue's own example (issue_examples.py), or are the
    # verified reproduction's: one of them still failing means the issue is not fixed
    about_issue: list[str] = field(default_factory=list)
    # passed before any change, failed after an edit and passed when run again on the same code
    # (a pager, a clock, a loaded machine): not counted against edits (Checks.after_edit)
    seen_flaky: set[str] = field(default_factory=set)

    def now(self) -> dict[str, Any] | None:
        """The last test run, if the code has not changed since."""
        return None if self.changed_since else self.last

    def stand(self) -> bool:
        """The last test run covered the whole suite and nothing changed since."""
        last = self.last
        return last is not None and bool(last.get("whole_suite", True)) and not self.changed_since

    def first_tested(self, version: str, attempt: int) -> int:
        """Note `version` of the code as tested; the first attempt that tested it."""
        return self.tested.setdefault(version, attempt)

    def new_attempt(self) -> None:
        """The tree is back as it was: the baseline stands again, the attempt's counts reset."""
        self.last, self.changed_since, self.finish_refusals = None, False, 0
        self.args, self.best_failing, self.stale_edits = {}, {}, 0
        if self.baseline is not None:
            self.last = self.baseline
            self.best_failing[ALL_TESTS] = failing_count(self.baseline)


@dataclass
class CallRecord:
    """The calls this attempt made on each version of the code (repeats.py). A model going round
    in a cycle (edit A, test, edit A, test...) repeats itself as surely as one making one call again."""

    seen: dict[str, int] = field(default_factory=dict)  # since the code last changed: signature -> times
    versions: dict[str, dict[str, int]] = field(default_factory=dict)  # each version -> its `seen`
    repeats: int = 0  # times the call being run was made before on this code
    revisits: int = 0  # edits that put the code back to a version it had before
    idle_turns: int = 0  # replies in a row without a tool call

    def back_on(self, version: str) -> None:
        """The code is back on `version` (an edit undone): the calls made on it count again."""
        self.seen = self.versions.setdefault(version, {})


@dataclass
class DrawRecord:
    """What edit sampling learnt, kept across attempts: the same edit on the same code does the same
    (sampling.py)."""

    heat: int = 0  # draws since an edit last went on that repeated a tried edit (`draw_heat`)
    # each version of the code -> the edits tried on it that did no better
    fruitless: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # each version of the code -> path -> line -> the set-off turns whose edits there changed
    # nothing (`bar_after_set_offs`)
    idle_lines: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)


@dataclass
class LoopState:
    """What a run knows as it goes, and what it hands back for the report."""

    messages: list[Message]
    task: str = ""
    plan: list[str] = field(default_factory=list)
    plan_done: list[int] = field(default_factory=list)
    steps: int = 0
    tool_calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    summary: str = ""
    stop_reason: str = ""
    notices: list[str] = field(default_factory=list)
    attempt: int = 1
    set_aside: list[SetAside] = field(default_factory=list)  # the changes of earlier attempts
    step_seconds: list[float] = field(default_factory=list)  # how long each step took (budget checks)
    repair: RepairResult | None = None  # how the repair phase went, when it ran
    reproduction: ReproResult | None = None  # how the reproduction phase went, when it ran
    tests: SuiteRecord = field(default_factory=SuiteRecord)
    calls: CallRecord = field(default_factory=CallRecord)
    draws: DrawRecord = field(default_factory=DrawRecord)

    @property
    def last_tests(self) -> dict[str, Any] | None:
        """The last test run's data and output."""
        return self.tests.last

    def tests_stand(self) -> bool:
        """The last test run covered the whole suite and nothing changed since."""
        return self.tests.stand()

    def failed(self, reason: str, message: str) -> LoopState:
        """The run failed midway (engine or internal error): it ends here, with what it found so
        far (the tests before any change still decide what the final verification says)."""
        self.stop_reason = reason
        self.notices.append(message)
        return self

    def new_attempt(self, opening: list[Message]) -> None:
        """Back to the conversation as it stood after the plan; the counters of one attempt reset."""
        self.messages = list(opening)
        self.attempt += 1
        self.stop_reason = ""
        self.tests.new_attempt()
        self.calls = CallRecord()


@dataclass
class Run:
    """One run as the loop's helpers share it: its state, its budgets, the events it emits and its
    clock. Helpers get this and the few callables they need, never the loop."""

    state: LoopState
    budgets: Budgets
    emit: Emit
    started: float = field(default_factory=time.monotonic)

    def time_left(self) -> float:
        return self.budgets.max_seconds - (time.monotonic() - self.started)

    def notice(self, message: str, level: str = "info") -> None:
        self.state.notices.append(message)
        self.emit(Notice(message=message, level="warning" if level == "warning" else "info"))

    def stopped(self, stop: StopRun) -> None:
        """The attempt stopped: its reason is the run's (said when there is more to it)."""
        self.state.stop_reason = stop.reason
        if str(stop) != stop.reason:
            self.notice(str(stop), "warning")

    def new_step(self) -> None:
        self.state.steps += 1
        self.emit(StepStarted(step=self.state.steps))

    def model_error(self, category: str, message: str) -> None:
        errors = self.state.errors
        errors[category] = errors.get(category, 0) + 1
        self.emit(ModelError(category=category, message=message[:500]))

    def tick_plan(self, done: list[int]) -> None:
        if done != self.state.plan_done:
            self.state.plan_done = done
            self.emit(PlanProgress(done=done))

    def tool_finished(self, call: ToolCall, outcome: Outcome) -> None:
        self.emit(finished(call, outcome))

    def check_budgets(self) -> None:
        """Stop before a step the budgets have no room for."""
        state, budgets = self.state, self.budgets
        if state.steps >= budgets.loop.max_steps:
            raise LimitsExceeded("max_steps", f"step budget of {budgets.loop.max_steps} used up")
        left = self.time_left()
        if left <= 0:
            raise LimitsExceeded("max_time", f"time budget of {budgets.max_seconds:.0f}s used up")
        recent = state.step_seconds[-5:]
        if recent and left < sum(recent) / len(recent):  # a step started now would end past the budget
            raise LimitsExceeded(
                "max_time",
                f"time budget of {budgets.max_seconds:.0f}s nearly used up: {left:.0f}s left, "
                f"a step takes {sum(recent) / len(recent):.0f}s",
            )
        spent = state.usage.prefilled_tokens + state.usage.generated_tokens
        if spent > budgets.loop.max_tokens:
            raise LimitsExceeded("max_tokens", f"token budget of {budgets.loop.max_tokens} used up")


def finished(call: ToolCall, outcome: Outcome) -> ToolFinished:
    """The event that shows a tool call's outcome."""
    result = outcome.result
    return ToolFinished(
        call_id=call.id,
        name=call.name,
        ok=result.ok and outcome.error is None,
        output=result.output,
        data=result.data,
        seconds=outcome.seconds,
    )
