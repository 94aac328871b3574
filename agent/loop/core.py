"""The planner-executor loop: plan, then act/observe with tool calls, then verify before finishing.

It talks only to an `Engine` and a `Toolset`; everything it does is announced as a `RunEvent`.
An optional `Steering` lets a person steer it from another thread: guidance is read between steps,
and an interrupt ends the streaming turn at the next token and pauses the loop until guidance comes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
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
from agent.loop.checks import EDITING_TOOLS, FILE_EDITORS, Checks, last_output, verify
from agent.loop.errors import ContextTooSmall, LimitsExceeded, StoppedByUser, StopRun, Stuck
from agent.loop.planning import action_kind, parse_plan, tick
from agent.loop.repair import Repair, RepairHost, language_of
from agent.loop.sampling import EditSampler, Trial
from agent.loop.state import Budgets, Emit, LoopState, Run, SetAside
from agent.loop.suite_runs import failing_count, ran_tests
from agent.messages import Message, ToolCall, ToolSpec
from agent.steering import Steering
from tools.base import ToolOutcome

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
        self.sampler = EditSampler(
            self._run, self.tools, self.worktree.code_version, self._query, self.engine.samples
        )
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
        done = self._query(ChatOptions(tool_choice="none", max_tokens=self.budgets.plan_max_tokens))
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
            options = options.model_copy(update=self.sampler.heated())
        began = time.monotonic()
        done = self._query(options)
        if done.finish_reason == "interrupted":  # the partial text is kept, its calls never ran
            if done.message.content:
                state.messages.append(done.message)
            self._pause(state, done.message.content)
            return
        trial: Trial | None = None
        if self.sampler.wanted(done):
            trial = self.sampler.sample(options, done, time.monotonic() - began)
            done = trial.done
        state.messages.append(done.message)
        if not done.message.tool_calls:
            self._no_tool_call(state)
            return
        state.calls.idle_turns = 0
        for call in done.message.tool_calls:
            self._run_call(state, call, trial)

    # ---- edit sampling -----------------------------------------------------------------------

    # ---- model turns -----------------------------------------------------------------------

    def _query(self, options: ChatOptions) -> ChatDone:
        state = self._run.state
        self._fit_context(state, options.max_tokens)
        specs = self.tools.grounded_specs(self.sampler.barred())
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
