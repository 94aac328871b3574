"""The planner-executor loop: plan, then act/observe with tool calls, then verify before finishing.

It talks only to an `Engine` and a `Toolset`; everything it does is announced as a `RunEvent`.
An optional `Steering` lets a person steer it from another thread: guidance is read between steps,
and an interrupt ends the streaming turn at the next token and pauses the loop until guidance comes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import prompts
from agent.context.languages import is_test_path
from agent.engine import ChatOptions, Engine
from agent.events import (
    ChatDone,
    EngineEvent,
    Interrupted,
    ModelDelta,
    ModelText,
    PlanSet,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolFinished,
    ToolStarted,
    TurnUsage,
    Usage,
    UserGuidance,
)
from agent.loop.cosmetic import only_cosmetic
from agent.loop.errors import STUCK, ContextTooSmall, Finished, LimitsExceeded, StoppedByUser, StopRun, Stuck
from agent.loop.planning import action_kind, parse_plan, tick
from agent.loop.repair import Repair, RepairHost, language_of
from agent.loop.set_elsewhere import changed_lines, set_elsewhere
from agent.loop.state import ALL_TESTS, Budgets, Emit, LoopState, Outcome, Run, SetAside
from agent.loop.suite_runs import clip, failing_count, ran_tests, same_result
from agent.messages import Message, ToolCall, ToolSpec
from agent.steering import Steering
from tools.base import ToolContext, ToolOutcome, ToolResult
from tools.journal import EditRecord, UndoError


class Toolset(Protocol):
    def specs(self) -> list[ToolSpec]: ...

    # `specs()` narrowed for the call grammar to the repository as it is (tools/grounding.py)
    # `barred`: per file, the lines an edit's old text may not hold
    def grounded_specs(
        self, ctx: ToolContext, barred: Mapping[str, set[int]] | None = None
    ) -> list[ToolSpec]: ...

    def call(self, call: ToolCall, ctx: ToolContext) -> Any: ...  # returns an `Outcome`


def _test_data(outcome: Outcome) -> dict[str, Any]:
    """A run_tests outcome as the loop keeps it: its data and its output."""
    return {**outcome.result.data, "output": outcome.result.output}


def _covers(state: LoopState, arguments: dict[str, Any], ran: dict[str, Any]) -> bool:
    """A run_tests selection the loop may use for its own runs after edits: one that holds every
    test that failed before any change. (The 1.5B model once ran `-k 'not <the failing test>'`,
    and every edit after it was then shown as passing.) A test is held when the run `ran` shows
    it failing, or, with no keyword (which could leave it out), when the paths include it."""
    shown = {str(t) for t in ran.get("failing", [])}
    failing = [str(t) for t in (state.tests.baseline or {}).get("failing", []) if str(t) not in shown]
    if not failing:
        return True
    if arguments.get("keyword"):
        return False
    paths = [str(p).rstrip("/") for p in arguments.get("paths") or []]
    if not paths:
        return True

    def held(test: str) -> bool:
        file = test.split("::", 1)[0]
        return any(
            test == p or test.startswith((p + "::", p + "[")) or file == p or file.startswith(p + "/")
            for p in paths
        )

    return all(held(test) for test in failing)


def _how_many(count: float) -> str:
    return str(int(count)) if count != float("inf") else "no count (the tests did not run through)"


@dataclass
class Trial:
    """An edit tried on the tree and its tests, before the loop settles on one (`edit_samples`)."""

    done: ChatDone
    failing: float
    tests: Outcome | None = None  # the run_tests on it; None: the edit did not apply (or only to tests)
    outcome: Outcome | None = None  # set while the edit is still on the tree (it could not be undone)
    edits: int = 0  # the file changes it made
    tests_only: bool = False  # all of them to test files
    cosmetic: bool = False  # comments and layout only: the code is as it was (tests not run)
    no_effect: bool = False  # every test's result is as it was before the edit
    tried: bool = False  # the code came out as a version an earlier attempt had tested
    repeated: bool = False  # the very edit was tried on this code before and did no better
    where: str = ""  # the file and line it changed, or why it did not apply, for the run's log
    # set when every edit tried for the turn changed no test result: none is applied, and this
    # is what the model reads instead of the chosen edit's result
    set_off: str = ""
    changed: dict[str, set[int]] = field(default_factory=dict)  # path -> the lines it changed

    def told(self) -> str:
        """How it fared, for the run's log."""
        if self.cosmetic:
            return "comments only"
        if self.repeated:
            return "tried on this code before, not again"
        count = "no count" if self.failing == float("inf") else f"{int(self.failing)} failing"
        if self.tried:
            return f"{count}, as an earlier attempt had it"
        return f"{count}, no test result changed" if self.no_effect else count

    def rank(self, before: float) -> tuple[float, bool]:
        """Lower is better. An edit that changed no test's result goes nowhere, and one that
        makes the code as an earlier attempt had it goes where that attempt went (the 1.5B model
        copied the set-aside attempt's diff from its prompt, draw after draw): an edit that
        leaves as many failing as `before` and changed something ranks above them; one that
        makes more fail ranks below."""
        if self.no_effect or self.tried or self.repeated:
            return before + 0.5, False
        return self.failing, self.cosmetic


ATTEMPT_DIFF_CHARS = 1500
ATTEMPT_TESTS_CHARS = 1200
NO_CHANGE_TESTS_CHARS = 1500
EDITING_TOOLS = frozenset({"edit_file", "create_file", "apply_patch", "replace_lines", "shell"})
FILE_EDITORS = EDITING_TOOLS - {"shell"}  # tools that only change files: the tests run after them
ELIDED = "elided to fit the context window; call the tool again if you need them]"
BASELINE_TESTS_CHARS = 1200


class AgentLoop:
    def __init__(
        self,
        engine: Engine,
        toolset: Toolset,
        ctx: ToolContext,
        emit: Emit,
        budgets: Budgets,
        has_changes: Callable[[], bool],
        steering: Steering | None = None,
        set_aside: Callable[[], str] | None = None,
        code_version: Callable[[], str] | None = None,
        restore: Callable[[str], None] | None = None,
        code_writer: Toolset | None = None,
    ) -> None:
        """`set_aside`: puts the tree back as it was and returns the diff it removed; without it
        there is one attempt. `code_version`: a key of the code's current content (edits that go
        back and forth between two versions are caught by it). `restore`: applies a diff set aside
        before (the best attempt's change is what the run leaves). `code_writer`: the toolset
        holding write_code, for the repair phase (without it, or the two above, there is none)."""
        self.engine = engine
        self.toolset = toolset
        self.ctx = ctx
        self.emit = emit
        self.budgets = budgets
        self.has_changes = has_changes
        self.steering = steering
        self.set_aside = set_aside
        self.code_version = code_version
        self.restore = restore
        self.code_writer = code_writer
        self.specs = toolset.specs()

    # ---- the run ----------------------------------------------------------------------------

    def run(self, task: str, context: str, instructions: str = "") -> LoopState:
        """`instructions`: the project's AGENTS.md block (agent/instruction_prompt.py), or ""."""
        self._run = Run(LoopState(messages=[], task=task), self.budgets, self.emit)
        state = self._run.state
        tests = self._baseline(state)
        if self._repairs(state) and self._repair(state, task, context, instructions):
            return state
        guidance = state.messages  # what the user wrote during the repair phase
        state.messages = [*self._initial_messages(task, context, instructions, tests), *guidance]
        self._check_fits(state)
        try:
            if self.budgets.plan:
                self._plan(state)
        except StopRun as stop:
            self._run.stopped(stop)
            return state
        opening = list(state.messages)  # what every attempt starts from (the KV cache keeps it)
        while True:
            if self.code_version is not None:  # the code as the attempt starts is a version too
                state.calls.versions[self.code_version()] = state.calls.seen
            try:
                while True:
                    self._run.check_budgets()
                    self._steer(state)
                    began = time.monotonic()
                    self._step(state)
                    state.step_seconds.append(time.monotonic() - began)
            except StopRun as stop:
                self._run.stopped(stop)
            if not self._try_again(state, opening):
                self._keep_best(state)
                return state

    def _try_again(self, state: LoopState, opening: list[Message]) -> bool:
        """After a stuck attempt: set its change aside and start again from the plan, told what it
        did and how the tests failed (the next attempt is sampled, not greedy)."""
        budgets = self.budgets
        left = self._run.time_left()
        if (
            self.set_aside is None
            or state.stop_reason not in STUCK
            or state.attempt >= budgets.max_attempts
            or left < budgets.attempt_min_seconds
            or budgets.max_steps - state.steps < 3
        ):
            return False
        if self.has_changes() and not state.tests.stand():  # how that change fares, for the next attempt
            self.verify(state, f"attempt_{state.attempt}_verify")
        standing = state.tests.last if state.tests.stand() else None
        diff = self.set_aside()
        if diff:
            state.set_aside.append(SetAside(state.attempt, diff, standing))
        tests = self._last_test_output(state) if state.tests.last and not state.tests.last.get("ok") else ""
        reason = state.stop_reason
        note = prompts.render(
            "new_attempt",
            attempt=state.attempt,
            reason=STUCK[reason],
            diff=clip(diff, ATTEMPT_DIFF_CHARS),
            tests=clip(tests, ATTEMPT_TESTS_CHARS, tail=True),
        )
        last = opening[-1]
        state.new_attempt([*opening[:-1], last.model_copy(update={"content": f"{note}\n\n{last.content}"})])
        self._run.notice(
            f"attempt {state.attempt} of {budgets.max_attempts}: the last one {STUCK[reason]}; "
            f"its change ({len(diff.splitlines())} diff lines) was set aside and the task started again",
            "warning",
        )
        return True

    def _keep_best(self, state: LoopState) -> None:
        """When the last attempt did not fix it, the change left on the tree is the best attempt's:
        the fewest failing tests where they ran, and any change over none (a person reviews it)."""
        if not state.set_aside or self.set_aside is None or self.restore is None:
            return
        standing = state.tests.last if state.tests.stand() else None
        if standing is not None and standing.get("ok"):
            return
        best = min(state.set_aside, key=lambda a: failing_count(a.tests, state.tests.baseline))
        if self.has_changes() and failing_count(standing, state.tests.baseline) <= failing_count(
            best.tests, state.tests.baseline
        ):
            return
        self.set_aside()
        self.restore(best.diff)
        state.tests.last, state.tests.changed_since = best.tests, best.tests is None
        tests = best.tests or {}
        said = f"{tests.get('failed', 0)} failing tests" if best.tests is not None else "tests not run on it"
        self._run.notice(f"kept the change of attempt {best.attempt} ({said}): the best of {state.attempt}")

    def _baseline(self, state: LoopState) -> str:
        """The tests on the code as it is, before any change: what the task prompt says of them."""
        if not self.budgets.test_after_edit:
            return ""
        self.verify(state, "baseline")
        state.tests.baseline = state.tests.last
        tests = state.tests.baseline or {}
        state.tests.best_failing[ALL_TESTS] = failing_count(tests)
        return prompts.render(
            "tests_before",
            ok=bool(tests.get("ok")),
            no_tests=bool(tests.get("no_tests")),
            passed=int(tests.get("passed") or 0),
            output=clip(self._last_test_output(state), BASELINE_TESTS_CHARS, tail=True),
        )

    def _initial_messages(
        self, task: str, context: str, instructions: str = "", tests: str = ""
    ) -> list[Message]:
        system = prompts.render(
            "system", tools=[s.name for s in self.specs], test_after_edit=self.budgets.test_after_edit
        )
        user = prompts.render(
            "task",
            task=task,
            context=context,
            plan=self.budgets.plan,
            instructions=instructions,
            test_command=self.ctx.test_command,
            tests=tests,
        )
        return [Message.system(system), Message.user(user)]

    # ---- repair phase ------------------------------------------------------------------------

    def _repairs(self, state: LoopState) -> bool:
        """The repair phase runs: the tests show the bug, and drafts can be tried and set aside."""
        baseline = state.tests.baseline
        mode = self.budgets.repair
        return (
            mode != "off"
            and (mode == "always" or self.engine.samples)
            and self.code_writer is not None
            and self.set_aside is not None
            and self.code_version is not None
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
        )

    def _repair(self, state: LoopState, task: str, context: str, instructions: str) -> bool:
        """Draft-and-test repair (agent/loop/repair.py); True when a draft made the tests pass (the run
        is over). Otherwise the tree is as it was, and the closest draft is kept as attempt 0."""
        assert self.set_aside is not None and self.code_version is not None
        budget = self.budgets.repair_budget
        # its replies are steps of the run: at most its share of them, the rest are the loop's
        share = max(1, int(budget.share * self.budgets.max_steps))
        budget = budget.model_copy(update={"max_drafts": min(budget.max_drafts, share)})
        until = time.monotonic() + budget.share * max(self._run.time_left(), 0.0)
        host = RepairHost(
            chat=lambda messages, options: self._converse(state, messages, [], options),
            write=lambda call: self._repair_write(state, call),
            test=lambda call_id: self._repair_test(state, call_id),
            set_aside=self.set_aside,
            version=self.code_version,
            seconds_left=lambda: min(until - time.monotonic(), self._run.time_left()),
            step=lambda: self._repair_step(state),
            notice=lambda message: self._run.notice(message),
        )
        self._run.notice(
            f"repair: the model writes fixes as code, each tried with the tests "
            f"(up to {budget.share * max(self._run.time_left(), 0.0):.0f}s)",
        )
        baseline = state.tests.baseline or {}
        language = language_of(context, baseline)
        try:
            result = Repair(host, budget, language).run(
                task, context, self._last_test_output(state), baseline, instructions
            )
        except StopRun as stop:  # interrupted by the user
            self._run.stopped(stop)
            return True
        state.repair = result
        if result.resolved:
            state.summary = result.summary
            state.stop_reason = "finished"
            self._run.tick_plan(list(range(len(state.plan))))
            return True
        closest = result.closest()
        if closest is not None and closest.failing <= failing_count(baseline) and not closest.same_as_before:
            state.set_aside.append(SetAside(0, closest.diff, closest.tests))
        state.tests.last, state.tests.changed_since = state.tests.baseline, False
        self._run.notice(
            f"repair: {len(result.drafts)} drafts from {result.replies} replies, none passed; "
            "going on with tools",
        )
        return False

    def _repair_step(self, state: LoopState) -> None:
        self._steer(state)
        state.steps += 1
        self.emit(StepStarted(step=state.steps))

    def _repair_write(self, state: LoopState, call: ToolCall) -> ToolOutcome:
        assert self.code_writer is not None
        state.tool_calls += 1
        self.emit(ToolStarted(call=call))
        outcome: ToolOutcome = self.code_writer.call(call, self.ctx)
        self._run.tool_finished(call, outcome)
        return outcome

    def _repair_test(self, state: LoopState, call_id: str) -> dict[str, Any]:
        self.verify(state, call_id)
        return state.tests.last or {}

    def _plan(self, state: LoopState) -> None:
        done = self._chat(state, ChatOptions(tool_choice="none", max_tokens=self.budgets.plan_max_tokens))
        state.messages.append(done.message.model_copy(update={"tool_calls": []}))
        state.plan = parse_plan(done.message.content)
        self.emit(PlanSet(steps=state.plan))
        state.messages.append(Message.user(prompts.render("act")))
        if done.finish_reason == "interrupted":
            self._pause(state, done.message.content)

    def _step(self, state: LoopState) -> None:
        state.steps += 1
        self.emit(StepStarted(step=state.steps))
        options = ChatOptions(tool_choice="required", max_tokens=self.budgets.turn_max_tokens)
        if state.calls.repeats >= 1 or state.attempt > 1:
            options = options.model_copy(
                update={"temperature": self.budgets.unstick_temperature, "seed": state.steps}
            )
        if state.draws.heat:
            options = options.model_copy(update=self._heated(state))
        began = time.monotonic()
        done = self._chat(state, options)
        if done.finish_reason == "interrupted":  # the partial text is kept, its calls never ran
            if done.message.content:
                state.messages.append(done.message)
            self._pause(state, done.message.content)
            return
        trial: Trial | None = None
        if self._samples_edits(state, done):
            trial = self._sample_edits(state, options, done, time.monotonic() - began)
            done = trial.done
        state.messages.append(done.message)
        if not done.message.tool_calls:
            self._no_tool_call(state)
            return
        state.calls.idle_turns = 0
        for call in done.message.tool_calls:
            self._run_call(state, call, trial)

    # ---- edit sampling -----------------------------------------------------------------------

    def _samples_edits(self, state: LoopState, done: ChatDone) -> bool:
        """The turn is one file edit, and there are failing tests it can be measured on."""
        calls = done.message.tool_calls
        baseline = state.tests.baseline
        return (
            self.budgets.edit_samples > 1
            and self.engine.samples
            and self.budgets.test_after_edit
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
            and done.finish_reason != "interrupted"
            and len(calls) == 1
            and calls[0].name in FILE_EDITORS
            and calls[0].parse_error is None
        )

    def _sample_edits(self, state: LoopState, options: ChatOptions, done: ChatDone, seconds: float) -> Trial:
        """Try the turn's edit on the tree with the tests; while it does not make them pass, draw
        other replies to the same turn (sampled, the prompt's KV cache reused) and try those. The
        tree is left as it was; the trial with the fewest failing tests is the turn's reply."""
        budgets = self.budgets
        before = failing_count(state.tests.now(), state.tests.baseline)
        version = self.code_version() if self.code_version is not None else None
        fruitless = state.draws.fruitless.setdefault(version, set()) if version is not None else set()
        trials = [self._trial(state, done, fruitless)]
        self._note_fruitless(fruitless, trials[-1], before)
        state.draws.heat += int(trials[-1].repeated)
        while len(trials) < budgets.edit_samples and trials[-1].outcome is None and not trials[0].tests_only:
            if any(t.tests is not None and t.tests.result.data.get("ok") for t in trials):
                break
            if self._run.time_left() < 2 * seconds:  # a draw and the turn after it must still fit
                break
            sample = len(trials) + 1
            where = f" ({trials[-1].where})" if trials[-1].where else ""
            drawn = options.model_copy(
                update={
                    "temperature": budgets.unstick_temperature,
                    "seed": 1000 * state.steps + sample,
                    **self._heated(state),
                }
            )
            hotter = f", temperature {drawn.temperature:.1f}" if state.draws.heat else ""
            self._run.notice(
                f"edit {len(trials)} of this turn{where}: {trials[-1].told()}; "
                f"drawing another ({sample} of {budgets.edit_samples}{hotter})",
            )
            began = time.monotonic()
            reply = self._chat(state, drawn)
            seconds = max(seconds, time.monotonic() - began)
            if not self._samples_edits(state, reply):  # not an edit this time: not a candidate
                calls = ", ".join(c.name for c in reply.message.tool_calls) or "no call"
                trials.append(Trial(done=reply, failing=float("inf"), where=f"not one edit: {calls}"))
                continue
            again = _edit_pair(reply) in _edit_pairs(trials)  # the same as an earlier draw
            trials.append(self._trial(state, reply, fruitless))
            self._note_fruitless(fruitless, trials[-1], before)
            state.draws.heat += int(trials[-1].repeated or again)
        held = next((t for t in trials if t.outcome is not None), None)
        chosen = held or min(trials, key=lambda t: t.rank(before))  # the earliest on a tie
        if _sets_off(trials, chosen):
            barred = self._note_idle_lines(state, version, trials)
            chosen.set_off = self._set_off_text(trials, barred, passing=before == 0)
        else:
            state.draws.heat = 0
        if len(trials) > 1 or chosen.set_off:
            counts = ", ".join(t.told() for t in trials)
            going = "applying none" if chosen.set_off else f"going on with edit {trials.index(chosen) + 1}"
            self._run.notice(f"tried {len(trials)} edits for this turn (tests: {counts}); {going}")
        return chosen

    def _heated(self, state: LoopState) -> dict[str, float]:
        """Sampling for a reply after `state.draws.heat` draws that repeated tried edits (`draw_heat`)."""
        if not state.draws.heat:
            return {}
        budgets = self.budgets
        heated = budgets.unstick_temperature + budgets.draw_heat * state.draws.heat
        return {
            "temperature": min(budgets.max_draw_temperature, heated),
            "min_p": budgets.draw_min_p / 2 ** min(state.draws.heat, 3),
        }

    @staticmethod
    def _note_fruitless(fruitless: set[tuple[str, str]], trial: Trial, before: float) -> None:
        """Keep a tried edit_file call that did no better on the code it was tried on: it did not
        apply, changed comments only or no test's result, or made more tests fail. One that
        changed a result and left as many failing may be a first step: it stays open."""
        pair = _edit_pair(trial.done)
        if pair is None or trial.outcome is not None or trial.tests_only:
            return
        if trial.tests is None or trial.no_effect or trial.failing > before:
            fruitless.add(pair)

    def _note_idle_lines(
        self, state: LoopState, version: str | None, trials: list[Trial]
    ) -> dict[str, set[int]]:
        """Count a set-off turn on the lines its edits changed to no effect (or would have: a
        repeated edit's old text); the lines this turn closes to edits (`bar_after_set_offs`)."""
        if version is None or not self.budgets.bar_after_set_offs:
            return {}
        touched: dict[str, set[int]] = {}
        for trial in trials:
            if trial.no_effect or trial.cosmetic:
                for path, lines in trial.changed.items():
                    touched.setdefault(path, set()).update(lines)
            elif trial.repeated and (span := self._old_text_lines(trial.done.message.tool_calls[0])):
                touched.setdefault(span[0], set()).update(span[1])
        counts = state.draws.idle_lines.setdefault(version, {})
        closed: dict[str, set[int]] = {}
        for path, lines in touched.items():
            per_line = counts.setdefault(path, {})
            for line in lines:
                per_line[line] = per_line.get(line, 0) + 1
                if per_line[line] == self.budgets.bar_after_set_offs:
                    closed.setdefault(path, set()).add(line)
        return closed

    def _barred(self, state: LoopState) -> dict[str, set[int]]:
        """The lines closed to edits on the code as it is now (`bar_after_set_offs`)."""
        if self.code_version is None or not state.draws.idle_lines or not self.budgets.bar_after_set_offs:
            return {}
        counts = state.draws.idle_lines.get(self.code_version(), {})
        least = self.budgets.bar_after_set_offs
        barred = {path: {n for n, turns in lines.items() if turns >= least} for path, lines in counts.items()}
        return {path: lines for path, lines in barred.items() if lines}

    def _set_off_text(
        self, trials: list[Trial], barred: dict[str, set[int]] | None = None, passing: bool = False
    ) -> str:
        """What the model reads for a turn none of whose edits is applied (`_sets_off`): where
        they were, what the lines they changed use that is set where none of them went, and the
        lines this turn closed to edits. `passing`: the tests pass already (none did better)."""
        if passing:
            return prompts.render("edits_set_off_passing", tried=len(trials))
        applied = [t for t in trials if t.tests is not None or t.repeated]
        places = list(dict.fromkeys(t.where for t in applied if t.where))
        changed: dict[str, set[int]] = {}
        for trial in trials:
            for path, lines in trial.changed.items():
                changed.setdefault(path, set()).update(lines)
        elsewhere: list[str] = []
        for path, lines in changed.items():
            try:
                source = (self.ctx.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            elsewhere += [f"{path} line {line}: `{text}`" for line, text in set_elsewhere(source, lines)]
        return prompts.render(
            "edits_set_off",
            tried=len(trials),
            repeated=sum(t.repeated for t in trials),
            places="; ".join(places) or "one place",
            elsewhere=elsewhere,
            closed=[f"{path} {_line_numbers(lines)}" for path, lines in (barred or {}).items()],
            turns=self.budgets.bar_after_set_offs,
        )

    def _trial(self, state: LoopState, done: ChatDone, fruitless: set[tuple[str, str]]) -> Trial:
        """Apply the reply's edit, run the tests the model last chose on it, and undo it. One of
        the `fruitless` edits, tried on this code before, is not tried again: it would do the same."""
        call = done.message.tool_calls[0]
        if _edit_pair(done) in fruitless:
            return Trial(done=done, failing=float("inf"), repeated=True, where=self._place(call))
        before = state.tests.now()
        pending = len(self.ctx.edits.pending())
        outcome = self.toolset.call(call, self.ctx)
        edits = len(self.ctx.edits.pending()) - pending
        if outcome.error is not None or edits < 1:
            return Trial(done=done, failing=float("inf"), where=_why_not(outcome))
        trial = Trial(
            done=done,
            failing=float("inf"),
            edits=edits,
            tests_only=self._tests_only(edits),
            where=_where(outcome),
        )
        trial.cosmetic = only_cosmetic(self._last_edits(edits))
        for record in self._last_edits(edits):
            if record.before is not None and record.after is not None:
                trial.changed.setdefault(record.path, set()).update(
                    changed_lines(record.before, record.after)
                )
        if not (trial.tests_only or trial.cosmetic):  # a new test fails by design: nothing to compare
            run = ToolCall(id="trial_tests", name="run_tests", arguments=dict(state.tests.args))
            trial.tests = self.toolset.call(run, self.ctx)
            ran = _test_data(trial.tests)
            trial.failing = failing_count(ran, state.tests.baseline)
            trial.no_effect = same_result(before, ran)
            trial.tried = self._tested(state) < state.attempt
        try:
            self.ctx.edits.undo(self.ctx.root, edits)
        except UndoError as exc:  # changed behind the journal's back: this edit stays and goes on
            self._run.notice(f"could not take back a trial edit: {exc}; keeping it", "warning")
            trial.outcome = outcome
        return trial

    def _place(self, call: ToolCall) -> str:
        """Where an edit_file call's old_text is in its file now, as "path line N" (or the path)."""
        span = self._old_text_lines(call)
        return f"{span[0]} line {min(span[1])}" if span else str(call.arguments.get("path", ""))

    def _old_text_lines(self, call: ToolCall) -> tuple[str, set[int]] | None:
        """The file and 1-based lines an edit_file call's old_text covers in the file as it is
        (None: no such file in the repository, or the text is not in it)."""
        path, old = str(call.arguments.get("path", "")), str(call.arguments.get("old_text", "")).strip()
        target = (self.ctx.root / path).resolve()
        try:
            if not target.is_relative_to(self.ctx.root.resolve()):
                return None
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        at = text.find(old) if old else -1
        if at == -1:
            return None
        first = text.count("\n", 0, at) + 1
        return path, set(range(first, first + old.count("\n") + 1))

    # ---- model turns -----------------------------------------------------------------------

    def _chat(self, state: LoopState, options: ChatOptions) -> ChatDone:
        self._fit_context(state, options.max_tokens)
        specs = self.toolset.grounded_specs(self.ctx, self._barred(state))
        return self._converse(state, state.messages, specs, options)

    def _converse(
        self, state: LoopState, messages: list[Message], specs: list[ToolSpec], options: ChatOptions
    ) -> ChatDone:
        """One model turn on `messages`: its text shown as it streams, its usage counted."""
        done: ChatDone | None = None
        stream = self.engine.chat(messages, specs, options)
        shown: list[str] = []
        for event in stream:
            if self.steering is not None and self.steering.interrupted:
                done = _cut_short(stream, shown)
                break
            if isinstance(event, TextDelta):
                shown.append(event.text)
                self.emit(ModelDelta(text=event.text))
            elif isinstance(event, ThinkingDelta):
                self.emit(ModelDelta(text=event.text, thinking=True))
            elif isinstance(event, ChatDone):
                done = event
        if done is None:
            raise StopRun("engine_error", "the engine ended a reply without a final message")
        state.usage = state.usage.add(done.usage)
        self.emit(ModelText(text=done.message.content, thinking=done.message.thinking))
        if done.finish_reason != "interrupted":  # a stream cut short reports no usage
            self.emit(
                TurnUsage(
                    step=state.steps,
                    usage=done.usage,
                    context_budget=self.engine.context_length,
                    context_tokens=done.usage.prompt_tokens + done.usage.generated_tokens,
                )
            )
        return done

    def _check_fits(self, state: LoopState) -> None:
        """Refuse to start when the first prompt plus one reply cannot fit the context window."""
        needed = self.engine.count_tokens(state.messages, self.specs) + self.budgets.turn_max_tokens
        if needed > self.engine.context_length:
            raise ContextTooSmall(
                f"the system prompt, the {len(self.specs)} tool schemas and the task need {needed} tokens "
                f"with room for one reply, but the model's context window is {self.engine.context_length}: "
                f"raise --ctx to at least {needed} (or shorten the task)"
            )

    def _fit_context(self, state: LoopState, reserve: int) -> None:
        """Never truncate silently: the oldest tool outputs are cut to their first line until the
        prompt fits (the task, the plan and the latest exchange are always kept), and it is said."""
        limit = self.engine.context_length - reserve
        if self.engine.count_tokens(state.messages, self.specs) <= limit:
            return
        elided = 0
        for message in state.messages[2:-2]:
            if message.role == "tool" and not message.content.endswith(ELIDED):
                first, _, rest = message.content.partition("\n")
                message.content = f"{first[:200]}\n[{rest.count(chr(10)) + 1} lines {ELIDED}"
                elided += 1
                if self.engine.count_tokens(state.messages, self.specs) <= limit:
                    break
        if self.engine.count_tokens(state.messages, self.specs) > limit:
            raise LimitsExceeded("context_full", "the conversation no longer fits the model's context window")
        self._run.notice(
            f"context compacted: {elided} older tool outputs cut to their first line to fit the window"
        )

    def _no_tool_call(self, state: LoopState) -> None:
        state.calls.idle_turns += 1
        self._run.model_error("no_tool_call", "the reply contained no tool call")
        if state.calls.idle_turns >= self.budgets.max_idle_turns:
            raise Stuck("no_progress", f"{state.calls.idle_turns} replies in a row without a tool call")
        state.messages.append(Message.user(prompts.render("nudge_no_call")))

    # ---- tool calls ------------------------------------------------------------------------

    def _run_call(self, state: LoopState, call: ToolCall, trial: Trial | None = None) -> None:
        """`trial`: the call was tried already (`_sample_edits`): its tests stand for it, and if
        the trial edit could not be taken back, its outcome does too."""
        self._check_repeat(state, call)
        state.tool_calls += 1
        self.emit(ToolStarted(call=call))
        if trial is not None and trial.set_off:
            self._set_off(state, call, trial)
            return
        if call.name == "finish" and not call.parse_error:
            self._finish(state, call)
            return
        pending = len(self.ctx.edits.pending())
        before = (state.tests.last, state.tests.changed_since)
        held = trial.outcome if trial is not None else None
        outcome = held if held is not None else self.toolset.call(call, self.ctx)
        if held is not None and trial is not None:
            pending -= trial.edits  # its edits are on the journal already
        unchanged = outcome.error is not None and bool(outcome.result.data.get("unchanged"))
        if unchanged and state.calls.repeats >= 1:
            # the same edit that changes nothing, sent again: the model takes its change for done
            # and has nothing else to try on it (the models sent it three or four times running)
            self._record(state, call, outcome)
            raise Stuck("repeated_call", f"the model sent the same `{call.name}` that changes nothing twice")
        if unchanged and state.tests.changed_since:
            # an edit that changes nothing, right after one that did: the model thinks its change
            # is done. What it needs is how the tests fare on it, not a turn spent on the refusal.
            self._verify(state)
            outcome.result.output += "\n" + prompts.render(
                "tests_now", output=clip(self._last_test_output(state), NO_CHANGE_TESTS_CHARS, tail=True)
            )
        revisited = False
        edited = outcome.error is None and call.name in EDITING_TOOLS
        if edited:
            state.tests.changed_since = True
            revisited = self._code_changed(state)
        self._record(state, call, outcome, revisited)
        if revisited and state.calls.revisits >= self.budgets.max_repeats:
            raise Stuck(
                "repeated_call",
                f"the edits put the code back to a version it had before {state.calls.revisits} times",
            )
        if call.name == "run_tests" and outcome.error is None:
            state.tests.last = {**outcome.result.data, "output": outcome.result.output}
            state.tests.changed_since = False
        ran = outcome.result.data
        if call.name == "run_tests" and ran_tests(ran) and _covers(state, call.arguments, ran):
            state.tests.args = dict(call.arguments)  # a selection that found no test is not kept
        if edited and call.name in FILE_EDITORS and self.budgets.test_after_edit:
            tested = trial.tests if trial is not None else None
            self._test_after_edit(state, call, len(self.ctx.edits.pending()) - pending, before, tested)

    def _test_after_edit(
        self,
        state: LoopState,
        call: ToolCall,
        edits: int,
        before: tuple[dict[str, Any] | None, bool],
        tested: Outcome | None = None,
    ) -> None:
        """Run the tests the model last chose (all of them at first) on its edit and add their
        result to the edit's; undo an edit that made more of them fail; end the attempt when edit
        after edit does no better. `tested`: their run on this very edit, made when it was tried."""
        self.verify(state, f"tests_{state.steps}_{call.id}", state.tests.args, tested)
        self._tested(state)
        output = clip(self._last_test_output(state), NO_CHANGE_TESTS_CHARS, tail=True)
        tests = state.tests.last or {}
        selection = json.dumps(state.tests.args, sort_keys=True)
        failing = failing_count(tests, state.tests.baseline)
        best = state.tests.best_failing.get(selection, float("inf"))
        last = state.messages[-1]
        if self._tests_only(edits):  # a new test that fails shows the bug: neither worse nor stale
            text = prompts.render("tests_now", output=output)
            state.messages[-1] = last.model_copy(update={"content": f"{last.content}\n{text}"})
            return
        if failing > best and self.budgets.undo_regressions and self._undo(state, edits, before):
            note = prompts.render(
                "edit_undone", before=_how_many(best), after=_how_many(failing), output=output
            )
            state.messages[-1] = last.model_copy(update={"content": note})
            after = _how_many(failing)  # best is a count: it is lower
            self._run.notice(f"undid the {call.name} that made more tests fail ({int(best)} -> {after})")
        else:
            text = prompts.render("tests_now", output=output)
            if not tests.get("ok") and only_cosmetic(self._last_edits(edits)):
                text = prompts.render("edit_cosmetic") + "\n" + text
            elif not tests.get("ok") and not before[1] and same_result(before[0], tests):
                text = prompts.render("edit_no_effect") + "\n" + text
            state.messages[-1] = last.model_copy(update={"content": f"{last.content}\n{text}"})
            if tests.get("ok"):
                return
            if failing < best:
                state.tests.best_failing[selection], state.tests.stale_edits = failing, 0
                return
        self._stale_edit(state)

    def _stale_edit(self, state: LoopState) -> None:
        """One more edit in a row that did no better; too many end the attempt."""
        state.tests.stale_edits += 1
        if state.tests.stale_edits >= self.budgets.max_stale_edits:
            raise Stuck(
                "no_improvement",
                f"{state.tests.stale_edits} edits in a row left as many tests failing as before",
            )

    def _set_off(self, state: LoopState, call: ToolCall, trial: Trial) -> None:
        """The turn's edits all changed nothing: the tree stays as it was, the model is told where
        they were, and the turn counts as an edit that did no better."""
        self._run.tool_finished(
            call, ToolOutcome(result=ToolResult(output=trial.set_off, ok=False, data={"set_off": True}))
        )
        state.messages.append(Message.tool_result(call, trial.set_off))
        self._stale_edit(state)

    def _tested(self, state: LoopState) -> int:
        """Note the code as it is now as tested; the first attempt that tested it (this one if
        none did before; with no `code_version`, always this one)."""
        if self.code_version is None:
            return state.attempt
        return state.tests.tested.setdefault(self.code_version(), state.attempt)

    def _last_edits(self, edits: int) -> list[EditRecord]:
        """The last call's `edits` file changes."""
        return self.ctx.edits.pending()[-edits:] if edits >= 1 else []

    def _tests_only(self, edits: int) -> bool:
        """The last call's `edits` file changes were all to test files."""
        records = self._last_edits(edits)
        return bool(records) and all(is_test_path(r.path) for r in records)

    def _undo(self, state: LoopState, edits: int, before: tuple[dict[str, Any] | None, bool]) -> bool:
        """Revert the last call's `edits` file changes; the code and its tests are as they were."""
        if edits < 1:
            return False
        try:
            self.ctx.edits.undo(self.ctx.root, edits)
        except UndoError as exc:  # changed behind the journal's back: leave it, say so
            self._run.notice(f"could not undo an edit that made more tests fail: {exc}", "warning")
            return False
        state.tests.last, state.tests.changed_since = before
        version = self.code_version() if self.code_version is not None else None
        if version is not None:  # back on a version seen before, without counting a revisit
            state.calls.seen = state.calls.versions.setdefault(version, {})
        return True

    def _code_changed(self, state: LoopState) -> bool:
        """After an edit: a new version of the code starts with no calls seen; a version the
        attempt had before gets back the calls made on it (running the same tests on it again is
        a repeat). True when the code went back to an earlier version."""
        version = self.code_version() if self.code_version is not None else None
        if version is not None and version in state.calls.versions:
            state.calls.seen = state.calls.versions[version]
            state.calls.revisits += 1
            state.calls.repeats = max(state.calls.repeats, 1)  # the next turn is sampled
            return True
        state.calls.seen = {}  # the code changed: the same test run now means something new
        if version is not None:
            state.calls.versions[version] = state.calls.seen
        return False

    def _record(self, state: LoopState, call: ToolCall, outcome: Outcome, revisited: bool = False) -> None:
        self._run.tool_finished(call, outcome)
        result = outcome.result
        kind = action_kind(call.name, result.ok and outcome.error is None, result.data)
        if kind is not None:
            self._run.tick_plan(tick(state.plan, state.plan_done, kind))
        if outcome.error is not None:
            self._run.model_error(outcome.error, result.output)
        text = result.output
        if revisited:
            text = prompts.render("code_revisited") + "\n" + text
        elif state.calls.repeats >= 1:
            text = prompts.render("repeated_call") + "\n" + text
        state.messages.append(Message.tool_result(call, text))

    def _check_repeat(self, state: LoopState, call: ToolCall) -> None:
        signature = call.name + json.dumps(call.arguments, sort_keys=True) + (call.raw_arguments or "")
        state.calls.repeats = state.calls.seen.get(signature, 0)
        state.calls.seen[signature] = state.calls.repeats + 1
        if state.calls.repeats + 1 >= self.budgets.max_repeats:
            raise Stuck(
                "repeated_call",
                f"the model made the same `{call.name}` call {state.calls.repeats + 1} times "
                "without changing the code in between",
            )

    def _finish(self, state: LoopState, call: ToolCall) -> None:
        summary = str(call.arguments.get("summary", "")).strip()
        refusal = self._finish_refusal(state)
        if refusal is None:
            state.summary = summary
            self.emit(ToolFinished(call_id=call.id, name="finish", ok=True, output="accepted"))
            self._run.tick_plan(list(range(len(state.plan))))
            raise Finished()
        state.tests.finish_refusals += 1
        self.emit(ToolFinished(call_id=call.id, name="finish", ok=False, output=refusal))
        state.messages.append(Message.tool_result(call, refusal))

    def _finish_refusal(self, state: LoopState) -> str | None:
        """Why `finish` cannot be accepted yet, or None. Verifies with the tests first."""
        if not self.has_changes():  # a fix needs a change; a stuck model ends on repeats or budgets
            return prompts.render(
                "finish_no_change", task=state.task, test_after_edit=self.budgets.test_after_edit
            )
        if not state.tests.stand():  # a passing subset (-k one test) does not show nothing broke
            self._verify(state)
        tests = state.tests.last or {}
        if tests.get("ok") or tests.get("no_tests"):
            return None
        return prompts.render(
            "finish_tests_fail",
            output=self._last_test_output(state),
            test_after_edit=self.budgets.test_after_edit,
        )

    def _verify(self, state: LoopState) -> None:
        self.verify(state, f"verify_{state.steps}")

    def verify(
        self,
        state: LoopState,
        call_id: str,
        arguments: dict[str, Any] | None = None,
        tested: Outcome | None = None,
    ) -> None:
        """The verify step: the loop runs the tests itself (also after the run, for the report).
        `tested`: a run of these tests on the code as it is now, reported instead of a new one."""
        call = ToolCall(id=call_id, name="run_tests", arguments=dict(arguments or {}))
        self.emit(ToolStarted(call=call))
        outcome = tested if tested is not None else self.toolset.call(call, self.ctx)
        self._run.tool_finished(call, outcome)
        state.tests.last = _test_data(outcome)
        state.tests.changed_since = False

    @staticmethod
    def _last_test_output(state: LoopState) -> str:
        return str((state.tests.last or {}).get("output", ""))[-3000:]

    # ---- steering --------------------------------------------------------------------------

    def _steer(self, state: LoopState) -> None:
        """Between steps: pause if the user interrupted, then hand the model what they wrote."""
        if self.steering is None:
            return
        if self.steering.interrupted:
            self._pause(state, "")
        for text in self.steering.drain():
            self._add_guidance(state, text)

    def _pause(self, state: LoopState, partial: str) -> None:
        """Wait for the user's guidance; the paused time does not count against the time budget."""
        if self.steering is None:
            return
        self.emit(Interrupted(step=state.steps, partial_text=partial))
        paused = time.monotonic()
        text = self.steering.wait_for_guidance()
        self._run.started += time.monotonic() - paused
        if text is None:
            raise StoppedByUser()
        self._add_guidance(state, text)

    def _add_guidance(self, state: LoopState, text: str) -> None:
        if text.strip():
            state.messages.append(Message.user(prompts.render("guidance", text=text.strip())))
            self.emit(UserGuidance(text=text.strip()))

    # ---- bookkeeping -----------------------------------------------------------------------


def _cut_short(stream: Iterator[EngineEvent], shown: list[str]) -> ChatDone:
    """Close the engine's stream (its generator stops decoding) and keep the text shown so far."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()
    message = Message(role="assistant", content="".join(shown).strip())
    return ChatDone(message=message, usage=Usage(), finish_reason="interrupted")


def _sets_off(trials: list[Trial], chosen: Trial) -> bool:
    """The best of the turn's edits is one that changed no test result (or made the code as an
    earlier attempt had it), among two or more that ran the tests: applying it would only leave
    a change that does nothing on the tree, and a turn on it."""
    if chosen.repeated:  # known to do no better: never applied
        return True
    ran = sum(t.tests is not None for t in trials)
    return (chosen.no_effect or chosen.tried) and chosen.outcome is None and ran >= 2


def _edit_pair(done: ChatDone) -> tuple[str, str] | None:
    """A reply's edit_file call as (old_text, new_text), whitespace at either end dropped (the
    edit tool matches past it); None for any other reply."""
    calls = done.message.tool_calls
    if len(calls) != 1 or calls[0].name != "edit_file":
        return None
    old, new = calls[0].arguments.get("old_text"), calls[0].arguments.get("new_text")
    return (old.strip(), new.strip()) if isinstance(old, str) and isinstance(new, str) else None


def _line_numbers(lines: set[int]) -> str:
    """`{3, 4, 5, 9}` as "lines 3-5, 9"."""
    runs: list[list[int]] = []
    for line in sorted(lines):
        if runs and line == runs[-1][-1] + 1:
            runs[-1].append(line)
        else:
            runs.append([line])
    spans = [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs]
    return ("line " if len(lines) == 1 else "lines ") + ", ".join(spans)


def _edit_pairs(trials: list[Trial]) -> set[tuple[str, str]]:
    """The edit_file calls of `trials` as `_edit_pair`s."""
    return {pair for trial in trials if (pair := _edit_pair(trial.done)) is not None}


def _where(outcome: Outcome) -> str:
    """The file and line an edit changed, from its result."""
    data = outcome.result.data
    path, line = data.get("path"), data.get("line")
    return f"{path} line {line}" if path and line else str(path or "")


def _why_not(outcome: Outcome) -> str:
    """Why an edit did not apply, from its result's first line."""
    if outcome.error is None:
        return "changed no file"
    first = outcome.result.output.strip().splitlines()[0] if outcome.result.output.strip() else ""
    first = first.removeprefix("error: ")
    return first if len(first) <= 90 else first[:87] + "..."
