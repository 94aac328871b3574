"""The planner-executor loop: run -> step -> query -> execute.

`run` takes the tests before any change (the baseline), gives the repair phase its turn when they
show the bug, asks the model for a plan, then runs attempts of steps. A `step` is one turn: `query`
asks the model for a reply (the prompt compacted to fit the window, the call grammar held to the
repository as it is), and `execute` runs each tool call it made and hands the result back. A
`StopRun` ends an attempt: `finish` accepted, a budget used up, the model stuck or the user gone;
a stuck attempt is set aside and the task started again while there is room.

The loop talks only to an `Engine`, its `Tools` and a `Worktree`; everything it does is announced
as a `RunEvent`. Each concern is a helper that shares the `Run` (state.py) and gets only the
callables it needs: checks, repeats, sampling, attempts, turns, the repair phase.
"""

from __future__ import annotations

import time

import prompts
from agent.engines.base import ChatOptions, Engine
from agent.events import ChatDone, PlanSet, ToolStarted
from agent.loop.attempts import Attempts
from agent.loop.base import Outcome, Tools, Worktree
from agent.loop.checks import Checks, verify
from agent.loop.errors import StopRun, Stuck
from agent.loop.planning import action_kind, parse_plan, tick
from agent.loop.repair import RepairPhase
from agent.loop.repeats import Repeats
from agent.loop.reproduce import ReproBrief, ReproductionPhase
from agent.loop.sampling import EditSampler, Trial
from agent.loop.state import Budgets, Emit, LoopState, Run
from agent.loop.turns import Turns
from agent.loop.window import check_fits, compact
from agent.messages import Message, ToolCall
from agent.steering import Steering
from tools.base import may_change_code


class AgentLoop:
    """One task at a time: `run` it, then `verify` the tree as it is left (agent/run/fix.py)."""

    def __init__(
        self,
        engine: Engine,
        tools: Tools,
        worktree: Worktree,
        emit: Emit,
        budgets: Budgets,
        steering: Steering | None = None,
    ) -> None:
        """`steering`: lets a person interrupt and guide the run from another thread (the TUI)."""
        self.engine = engine
        self.tools = tools
        self.worktree = worktree
        self.emit = emit
        self.budgets = budgets
        self.steering = steering
        self.specs = tools.toolset.specs()
        self.state: LoopState | None = None  # the run's so far (what a run that fails midway found)

    def run(
        self, task: str, context: str, instructions: str = "", brief: ReproBrief | None = None
    ) -> LoopState:
        """Fix `task`, given the repository `context` and the project's AGENTS.md block
        (agent/run/instruction_prompt.py, or ""); the state it ends in is the report's. `brief`: where
        a reproduction test would go and how the project's tests look (no reproduction without)."""
        state = self._start(task)
        tests = self.checks.baseline()
        lead = self.reproduce.lead(task, context, instructions, brief)  # a test kept: its conversation
        tests = self.checks.told_baseline() if lead is not None else tests
        if state.stop_reason or (
            self.repair.wanted() and self.repair.run_phase(task, context, instructions, lead)
        ):
            return state  # a draft fixed the tests that failed (or time ran out, or the user ended the run)
        guidance = state.messages  # what the user wrote during the repair phase
        state.messages = [*self._opening(task, context, instructions, tests), *guidance]
        check_fits(self.engine, self.specs, state.messages, self.budgets.turn_max_tokens)
        try:
            if self.budgets.loop.plan:
                self._plan()
        except StopRun as stop:
            self._run.stopped(stop)
            return state
        opening = list(state.messages)  # what every attempt starts from (the KV cache keeps it)
        while True:
            self._attempt()
            if not self.attempts.try_again(opening):
                self.attempts.keep_best()
                return state

    def _start(self, task: str) -> LoopState:
        """A new run: its state and clock, and the helpers that share them."""
        run = self._run = Run(LoopState(messages=[], task=task), self.budgets, self.emit)
        self.state = run.state
        version = self.worktree.code_version
        self.turns = Turns(run, self.engine, self.steering)
        self.checks = Checks(run, self.tools, self.worktree)
        self.repeats = Repeats(run, version)
        self.sampler = EditSampler(run, self.tools, version, self.query, self.engine.samples)
        self.attempts = Attempts(run, self.worktree, self.checks.verify)
        phase = (run, self.turns, self.tools, self.worktree, self.checks.verify, self.engine.samples)
        self.repair, self.reproduce = RepairPhase(*phase), ReproductionPhase(*phase)
        return run.state

    def _attempt(self) -> None:
        """Steps until the attempt stops: finished, stuck, out of budget or ended by the user."""
        state = self._run.state
        self.repeats.attempt_starts()
        try:
            while True:
                self._run.check_budgets()
                self.turns.steer()
                began = time.monotonic()
                self.step()
                state.step_seconds.append(time.monotonic() - began)
        except StopRun as stop:
            self._run.stopped(stop)

    def _opening(self, task: str, context: str, instructions: str, tests: str) -> list[Message]:
        """The system prompt and the task (with what the tests showed before any change)."""
        budgets = self.budgets
        system = prompts.render(
            "system", tools=[s.name for s in self.specs], test_after_edit=budgets.loop.test_after_edit
        )
        user = prompts.render(
            "task",
            task=task,
            context=context,
            plan=budgets.loop.plan,
            instructions=instructions,
            test_command=self.tools.ctx.test_command,
            tests=tests,
        )
        return [Message.system(system), Message.user(user)]

    def _plan(self) -> None:
        """The model's plan, in words (no tools); its steps are ticked as evidence comes in."""
        state = self._run.state
        done = self.query(ChatOptions(tool_choice="none", max_tokens=self.budgets.plan_max_tokens))
        state.messages.append(done.message.model_copy(update={"tool_calls": []}))
        state.plan = parse_plan(done.message.content)
        self.emit(PlanSet(steps=state.plan))
        state.messages.append(Message.user(prompts.render("act")))
        if done.finish_reason == "interrupted":
            self.turns.pause(done.message.content)

    def step(self) -> None:
        """One turn: the model's reply (its edit tried against other draws, `EditSampler`), then its calls."""
        state = self._run.state
        self._run.new_step()
        options = self._options()
        began = time.monotonic()
        done = self.query(options)
        if done.finish_reason == "interrupted":  # the partial text is kept, its calls never ran
            if done.message.content:
                state.messages.append(done.message)
            self.turns.pause(done.message.content)
            return
        trial: Trial | None = None
        if self.sampler.wanted(done):
            trial = self.sampler.sample(options, done, time.monotonic() - began)
            done = trial.done
        state.messages.append(done.message)
        if not done.message.tool_calls:
            self.repeats.idle_turn()
            return
        state.calls.idle_turns = 0
        for call in done.message.tool_calls:
            self.execute(call, trial)

    def _options(self) -> ChatOptions:
        """Greedy, but sampled after a repeated call and in later attempts (a greedy model given
        the same context makes the same call again), and hotter after draws that repeated edits."""
        state, budgets = self._run.state, self.budgets
        options = ChatOptions(tool_choice="required", max_tokens=budgets.turn_max_tokens)
        if state.calls.repeats >= 1 or state.attempt > 1:
            options = options.model_copy(
                update={"temperature": budgets.unstick_temperature, "seed": state.steps}
            )
        if state.draws.heat:
            options = options.model_copy(update=self.sampler.heated())
        return options

    def query(self, options: ChatOptions) -> ChatDone:
        """The model's reply, the conversation compacted to fit; its calls' grammar held to the repository."""
        compact(self._run, self.engine, self.specs, options.max_tokens)
        specs = self.tools.grounded_specs(self.sampler.barred())
        return self.turns.converse(self._run.state.messages, specs, options)

    def execute(self, call: ToolCall, trial: Trial | None = None) -> None:
        """Run one tool call and hand its result to the model; after an edit, the tests run on it.
        `trial`: the call was tried already (edit sampling): its tests stand for it, and if its
        edit could not be taken back, its outcome does too."""
        state = self._run.state
        self.repeats.check(call)
        state.tool_calls += 1
        self.emit(ToolStarted(call=call))
        if trial is not None and trial.set_off:  # none of the turn's edits is applied
            self.checks.set_off(call, trial.set_off)
            return
        if call.name == "finish" and not call.parse_error:
            self.checks.finish(call)  # accepted (the run is over) or refused with the reason
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
            self._observe(call, outcome)
            raise Stuck("repeated_call", f"the model sent the same `{call.name}` that changes nothing twice")
        if unchanged and state.tests.changed_since:
            self.checks.tests_now(outcome)
        kind = self.tools.kind(call.name)
        edited = outcome.error is None and may_change_code(kind, call.name)
        if edited:
            state.tests.changed_since = True
        revisited = edited and self.repeats.code_changed()
        self._observe(call, outcome, revisited)
        if revisited:
            self.repeats.check_revisits()
        if call.name == "run_tests":
            self.checks.model_ran_tests(call, outcome)
        if edited and kind == "edit" and self.budgets.loop.test_after_edit:  # a file edit, not a command
            tested = trial.tests if trial is not None else None
            self.checks.after_edit(call, self.tools.edit_count() - pending, before, tested)

    def _observe(self, call: ToolCall, outcome: Outcome, revisited: bool = False) -> None:
        """Show the call's outcome and hand it to the model; a failed call counts as a model error,
        a successful one may tick the plan."""
        run, result = self._run, outcome.result
        run.tool_finished(call, outcome)
        worked = result.ok and outcome.error is None
        kind = action_kind(self.tools.kind(call.name), call.name, worked, result.data)
        if kind is not None:
            run.tick_plan(tick(run.state.plan, run.state.plan_done, kind))
        if outcome.error is not None:
            run.model_error(outcome.error, result.output)
        run.state.messages.append(Message.tool_result(call, self.repeats.noted(result.output, revisited)))

    def time_left(self) -> float:  # seconds left of the run's time budget
        return self._run.time_left()

    def verify(self, state: LoopState, call_id: str) -> None:
        """The whole suite on the tree as it is, its result kept in `state` (for the report)."""
        verify(self.tools, self.emit, state.tests, call_id)
