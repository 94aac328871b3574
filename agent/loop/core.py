"""The planner-executor loop: plan, then act/observe with tool calls, then verify before finishing.

It talks only to an `Engine` and a `Toolset`; everything it does is announced as a `RunEvent`.
An optional `Steering` lets a person steer it from another thread: guidance is read between steps,
and an interrupt ends the streaming turn at the next token and pauses the loop until guidance comes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import prompts
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
    ToolStarted,
    TurnUsage,
    Usage,
    UserGuidance,
)
from agent.loop.attempts import Attempts
from agent.loop.base import Outcome, Tools, Worktree
from agent.loop.checks import EDITING_TOOLS, FILE_EDITORS, Checks, last_output, test_data, tests_only, verify
from agent.loop.cosmetic import only_cosmetic
from agent.loop.errors import ContextTooSmall, LimitsExceeded, StoppedByUser, StopRun, Stuck
from agent.loop.planning import action_kind, parse_plan, tick
from agent.loop.repair import Repair, RepairHost, language_of
from agent.loop.set_elsewhere import changed_lines, set_elsewhere
from agent.loop.state import Budgets, Emit, LoopState, Run, SetAside
from agent.loop.suite_runs import failing_count, ran_tests, same_result
from agent.messages import Message, ToolCall, ToolSpec
from agent.steering import Steering
from tools.base import ToolOutcome
from tools.journal import UndoError


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


ELIDED = "elided to fit the context window; call the tool again if you need them]"


class AgentLoop:
    def __init__(
        self,
        engine: Engine,
        tools: Tools,
        worktree: Worktree,
        emit: Emit,
        budgets: Budgets,
        steering: Steering | None = None,
    ) -> None:
        self.engine = engine
        self.tools = tools
        self.worktree = worktree
        self.emit = emit
        self.budgets = budgets
        self.steering = steering
        self.specs = tools.toolset.specs()

    # ---- the run ----------------------------------------------------------------------------

    def run(self, task: str, context: str, instructions: str = "") -> LoopState:
        """`instructions`: the project's AGENTS.md block (agent/instruction_prompt.py), or ""."""
        self._run = Run(LoopState(messages=[], task=task), self.budgets, self.emit)
        state = self._run.state
        self.checks = Checks(self._run, self.tools, self.worktree)
        self.attempts = Attempts(self._run, self.worktree, self.checks.verify)
        tests = self.checks.baseline()
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
            # the code as the attempt starts is a version too
            state.calls.versions[self.worktree.code_version()] = state.calls.seen
            try:
                while True:
                    self._run.check_budgets()
                    self._steer(state)
                    began = time.monotonic()
                    self._step(state)
                    state.step_seconds.append(time.monotonic() - began)
            except StopRun as stop:
                self._run.stopped(stop)
            if not self.attempts.try_again(opening):
                self.attempts.keep_best()
                return state

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
            test_command=self.tools.ctx.test_command,
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
            and self.tools.code_writer is not None
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
        )

    def _repair(self, state: LoopState, task: str, context: str, instructions: str) -> bool:
        """Draft-and-test repair (agent/loop/repair.py); True when a draft made the tests pass (the run
        is over). Otherwise the tree is as it was, and the closest draft is kept as attempt 0."""
        budget = self.budgets.repair_budget
        # its replies are steps of the run: at most its share of them, the rest are the loop's
        share = max(1, int(budget.share * self.budgets.max_steps))
        budget = budget.model_copy(update={"max_drafts": min(budget.max_drafts, share)})
        until = time.monotonic() + budget.share * max(self._run.time_left(), 0.0)
        host = RepairHost(
            chat=lambda messages, options: self._converse(state, messages, [], options),
            write=lambda call: self._repair_write(state, call),
            test=lambda call_id: self._repair_test(state, call_id),
            set_aside=self.worktree.set_aside,
            version=self.worktree.code_version,
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
                task, context, last_output(state.tests), baseline, instructions
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
        state.tool_calls += 1
        self.emit(ToolStarted(call=call))
        outcome = self.tools.write_code(call)
        self._run.tool_finished(call, outcome)
        return outcome

    def _repair_test(self, state: LoopState, call_id: str) -> dict[str, Any]:
        self.checks.verify(call_id)
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
        version = self.worktree.code_version()
        fruitless = state.draws.fruitless.setdefault(version, set())
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
        if not state.draws.idle_lines or not self.budgets.bar_after_set_offs:
            return {}
        counts = state.draws.idle_lines.get(self.worktree.code_version(), {})
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
                source = (self.tools.ctx.root / path).read_text(encoding="utf-8")
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
        pending = self.tools.edit_count()
        outcome = self.tools.call(call)
        edits = self.tools.edit_count() - pending
        if outcome.error is not None or edits < 1:
            return Trial(done=done, failing=float("inf"), where=_why_not(outcome))
        trial = Trial(
            done=done,
            failing=float("inf"),
            edits=edits,
            tests_only=tests_only(self.tools.last_edits(edits)),
            where=_where(outcome),
        )
        trial.cosmetic = only_cosmetic(self.tools.last_edits(edits))
        for record in self.tools.last_edits(edits):
            if record.before is not None and record.after is not None:
                trial.changed.setdefault(record.path, set()).update(
                    changed_lines(record.before, record.after)
                )
        if not (trial.tests_only or trial.cosmetic):  # a new test fails by design: nothing to compare
            run = ToolCall(id="trial_tests", name="run_tests", arguments=dict(state.tests.args))
            trial.tests = self.tools.call(run)
            ran = test_data(trial.tests)
            trial.failing = failing_count(ran, state.tests.baseline)
            trial.no_effect = same_result(before, ran)
            trial.tried = (
                state.tests.first_tested(self.worktree.code_version(), state.attempt) < state.attempt
            )
        try:
            self.tools.undo_edits(edits)
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
        root = self.tools.ctx.root
        target = (root / path).resolve()
        try:
            if not target.is_relative_to(root.resolve()):
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
        specs = self.tools.grounded_specs(self._barred(state))
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
            self.checks.set_off(call, trial.set_off)
            return
        if call.name == "finish" and not call.parse_error:
            self.checks.finish(call)
            return
        pending = self.tools.edit_count()
        before = (state.tests.last, state.tests.changed_since)
        held = trial.outcome if trial is not None else None
        outcome = held if held is not None else self.tools.call(call)
        if held is not None and trial is not None:
            pending -= trial.edits  # its edits are on the journal already
        unchanged = outcome.error is not None and bool(outcome.result.data.get("unchanged"))
        if unchanged and state.calls.repeats >= 1:
            # the same edit that changes nothing, sent again: the model takes its change for done
            # and has nothing else to try on it (the models sent it three or four times running)
            self._record(state, call, outcome)
            raise Stuck("repeated_call", f"the model sent the same `{call.name}` that changes nothing twice")
        if unchanged and state.tests.changed_since:
            self.checks.tests_now(outcome)
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
        if call.name == "run_tests":
            self.checks.model_ran_tests(call, outcome)
        if edited and call.name in FILE_EDITORS and self.budgets.test_after_edit:
            tested = trial.tests if trial is not None else None
            self.checks.after_edit(call, self.tools.edit_count() - pending, before, tested)

    def _code_changed(self, state: LoopState) -> bool:
        """After an edit: a new version of the code starts with no calls seen; a version the
        attempt had before gets back the calls made on it (running the same tests on it again is
        a repeat). True when the code went back to an earlier version."""
        version = self.worktree.code_version()
        if version in state.calls.versions:
            state.calls.seen = state.calls.versions[version]
            state.calls.revisits += 1
            state.calls.repeats = max(state.calls.repeats, 1)  # the next turn is sampled
            return True
        state.calls.seen = {}  # the code changed: the same test run now means something new
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

    def verify(self, state: LoopState, call_id: str) -> None:
        """The whole suite on the tree as it is, its result kept in `state` (the report's)."""
        verify(self.tools, self.emit, state.tests, call_id)

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
