"""The loop's own test runs and what it makes of them: the baseline before any change, the tests
after each edit (with the result they go back to the model in), edits that do no better counted
(too many in a row: the attempt is stuck), the verify step, and whether `finish` is accepted.

What a run's data says (how many fail, whether two runs showed the same) is suite_runs.py's.
"""

from __future__ import annotations

import json
from typing import Any

import prompts
from agent.events import ToolFinished, ToolStarted
from agent.loop.base import Outcome, Tools, Worktree
from agent.loop.cosmetic import only_cosmetic
from agent.loop.errors import Finished, Stuck
from agent.loop.evidence import failing_ids, judge
from agent.loop.held_back import HeldBackCheck, held_back_of
from agent.loop.issue_examples import example_tests
from agent.loop.state import ALL_TESTS, Emit, Run, SuiteRecord, finished
from agent.loop.suite_runs import clip, failing_count, ran_tests, same_result
from agent.messages import Message, ToolCall
from agent.repo.journal import EditRecord, UndoError
from agent.repo.languages import is_test_path
from tools.base import ToolOutcome, ToolResult

NO_CHANGE_TESTS_CHARS = 1500
BASELINE_TESTS_CHARS = 1200
RECHECK_TESTS = 20  # newly failing tests run again to tell flaky from broken (Checks._flaky)

Before = tuple[dict[str, Any] | None, bool]  # the last test run and whether the code changed since


def verify(
    tools: Tools,
    emit: Emit,
    tests: SuiteRecord,
    call_id: str,
    arguments: dict[str, Any] | None = None,
    tested: Outcome | None = None,
) -> None:
    """The verify step: the loop runs the tests itself (also after the run, for the report).
    `tested`: a run of these tests on the code as it is now, reported instead of a new one."""
    call = ToolCall(id=call_id, name="run_tests", arguments=dict(arguments or {}))
    emit(ToolStarted(call=call))
    outcome = tested if tested is not None else tools.call(call)
    emit(finished(call, outcome))
    tests.last = test_data(outcome)
    tests.changed_since = False


def test_data(outcome: Outcome) -> dict[str, Any]:
    """A run_tests outcome as the loop keeps it: its data and its output."""
    return {**outcome.result.data, "output": outcome.result.output}


def last_output(tests: SuiteRecord) -> str:
    return str((tests.last or {}).get("output", ""))[-3000:]


def tests_only(records: list[EditRecord]) -> bool:
    """These file changes were all to test files (and there was at least one)."""
    return bool(records) and all(is_test_path(r.path) for r in records)


class Checks:
    """The loop's test runs in one run: on its `Run`, through its `Tools`, with the `Worktree`
    saying whether the code changed and which version of it this is."""

    def __init__(self, run: Run, tools: Tools, worktree: Worktree) -> None:
        self.run = run
        self.tools = tools
        self.worktree = worktree

    def verify(
        self, call_id: str = "", arguments: dict[str, Any] | None = None, tested: Outcome | None = None
    ) -> None:
        """The tests (all, or `arguments`' selection) on the code as it is; `call_id` "": `verify_<step>`."""
        state = self.run.state
        verify(self.tools, self.run.emit, state.tests, call_id or f"verify_{state.steps}", arguments, tested)

    def baseline(self) -> str:
        """The tests on the code as it is, before any change: what the task prompt says of them.
        They run even without tests after edits (the verdict needs to know what failed before),
        but the model is told of them only with."""
        self.verify("baseline")
        state = self.run.state
        record = state.tests
        record.baseline = record.last
        failing = failing_ids(record.baseline)
        record.about_issue = example_tests(self.tools.ctx.root, failing, state.task)
        return self.told_baseline() if self.run.budgets.loop.test_after_edit else ""

    def told_baseline(self) -> str:
        """What the task prompt says of the tests before any change (the baseline as it stands:
        with the reproduction test once one is kept)."""
        record = self.run.state.tests
        tests = record.baseline or {}
        record.best_failing[ALL_TESTS] = failing_count(tests)
        return prompts.render(
            "tests_before",
            ok=bool(tests.get("ok")),
            no_tests=bool(tests.get("no_tests")),
            passed=int(tests.get("passed") or 0),
            output=clip(last_output(record), BASELINE_TESTS_CHARS, tail=True),
        )

    def model_ran_tests(self, call: ToolCall, outcome: Outcome) -> None:
        """The model's own run_tests: its result stands, and its selection is the one the loop
        uses after edits when it holds the tests that failed (a selection that found none is not)."""
        record = self.run.state.tests
        if outcome.error is None:
            record.last = test_data(outcome)
            record.changed_since = False
        ran = outcome.result.data
        if ran_tests(ran) and _covers(record.baseline, call.arguments, ran):
            record.args = dict(call.arguments)

    def tests_now(self, outcome: Outcome) -> None:
        """An edit that changes nothing, right after one that did: the model thinks its change is
        done. What it needs is how the tests fare on it, not a turn spent on the refusal."""
        self.verify()
        output = clip(last_output(self.run.state.tests), NO_CHANGE_TESTS_CHARS, tail=True)
        outcome.result.output += "\n" + prompts.render("tests_now", output=output)

    def after_edit(self, call: ToolCall, edits: int, before: Before, tested: Outcome | None = None) -> None:
        """Run the tests the model last chose (all of them at first) on its edit and add their
        result to the edit's; undo an edit that made more of them fail; end the attempt when edit
        after edit does no better. `tested`: their run on this very edit, made when it was tried."""
        state, budgets = self.run.state, self.run.budgets
        record = state.tests
        self.verify(f"tests_{state.steps}_{call.id}", record.args, tested)
        record.first_tested(self.worktree.code_version(), state.attempt)
        output = clip(last_output(record), NO_CHANGE_TESTS_CHARS, tail=True)
        tests = record.last or {}
        selection = json.dumps(record.args, sort_keys=True)
        best = record.best_failing.get(selection, float("inf"))
        records = self.tools.last_edits(edits)
        if tests_only(records):  # a new test that fails shows the bug: neither worse nor stale
            self._append(prompts.render("tests_now", output=output))
            return
        failing = self._failing(tests)
        if failing > best and self._flaky(tests):
            failing = self._failing(tests)
        if failing > best and budgets.loop.undo_regressions and self._undo(edits, before):
            note = prompts.render(
                "edit_undone", before=_how_many(best), after=_how_many(failing), output=output
            )
            last = state.messages[-1]
            state.messages[-1] = last.model_copy(update={"content": note})
            after = _how_many(failing)  # best is a count: it is lower
            self.run.notice(f"undid the {call.name} that made more tests fail ({int(best)} -> {after})")
        else:
            text = prompts.render("tests_now", output=output)
            if not tests.get("ok") and only_cosmetic(records):
                text = prompts.render("edit_cosmetic") + "\n" + text
            elif not tests.get("ok") and not before[1] and same_result(before[0], tests):
                text = prompts.render("edit_no_effect") + "\n" + text
            self._append(text)
            if tests.get("ok"):
                return
            if failing < best:
                record.best_failing[selection], record.stale_edits = failing, 0
                return
            if failing == best and _moved(before, tests) and not only_cosmetic(records):
                return  # some result changed and nothing broke more: maybe one part of a fix in several
        self.stale_edit()

    def _failing(self, tests: dict[str, Any]) -> float:
        """The run's failing count, less the tests that passed before any change and were seen
        flaky in this run: they say nothing of the edit."""
        record = self.run.state.tests
        count = failing_count(tests, record.baseline)
        flaky = (set(failing_ids(tests)) & record.seen_flaky) - set(failing_ids(record.baseline))
        return count - len(flaky)

    def _flaky(self, tests: dict[str, Any]) -> bool:
        """An edit seems to make more tests fail: the tests that passed before any change and fail
        now run once more, alone, on the same code; those that pass are flaky (a pager, a clock, a
        loaded machine) and no longer count. True when some were."""
        record = self.run.state.tests
        known = set(failing_ids(record.baseline)) | record.seen_flaky
        new = [t for t in failing_ids(tests) if t not in known and "::" in t][:RECHECK_TESTS]
        if not new or self.run.time_left() <= 0:
            return False
        call = ToolCall(id=f"recheck_{self.run.state.steps}", name="run_tests", arguments={"paths": new})
        self.run.emit(ToolStarted(call=call))
        outcome = self.tools.call(call)
        self.run.emit(finished(call, outcome))
        again = outcome.result.data or {}
        if outcome.error is not None or not ran_tests(again):
            return False
        failing_again = set(failing_ids(again))
        passed = [t for t in new if t not in failing_again]
        record.seen_flaky.update(passed)
        if passed:
            self.run.notice(
                f"flaky, not counted against the edit (failed, then passed): {', '.join(passed[:4])}"
            )
        return bool(passed)

    def _append(self, text: str) -> None:
        """Add `text` to the last message (the edit's result)."""
        messages = self.run.state.messages
        last = messages[-1]
        messages[-1] = last.model_copy(update={"content": f"{last.content}\n{text}"})

    def stale_edit(self) -> None:
        """One more edit in a row that did no better (made more tests fail, changed no result, or
        comments only); too many end the attempt. An edit that moved some result without breaking
        more is not counted: a fix in several parts passes the tests only after its last part."""
        record = self.run.state.tests
        record.stale_edits += 1
        if record.stale_edits >= self.run.budgets.max_stale_edits:
            raise Stuck(
                "no_improvement",
                f"{record.stale_edits} edits in a row did no better "
                "(more tests failing, no result changed, or comments only)",
            )

    def set_off(self, call: ToolCall, told: str) -> None:
        """The turn's edits all changed nothing (edit sampling): the tree stays as it was, the model
        is `told` where they were, and the turn counts as an edit that did no better."""
        outcome = ToolOutcome(result=ToolResult(output=told, ok=False, data={"set_off": True}))
        self.run.tool_finished(call, outcome)
        self.run.state.messages.append(Message.tool_result(call, told))
        self.stale_edit()

    def _undo(self, edits: int, before: Before) -> bool:
        """Revert the last call's `edits` file changes; the code and its tests are as they were."""
        if edits < 1:
            return False
        try:
            self.tools.undo_edits(edits)
        except UndoError as exc:  # changed behind the journal's back: leave it, say so
            self.run.notice(f"could not undo an edit that made more tests fail: {exc}", "warning")
            return False
        state = self.run.state
        state.tests.last, state.tests.changed_since = before
        # back on a version seen before, without counting a revisit
        state.calls.back_on(self.worktree.code_version())
        return True

    def finish(self, call: ToolCall) -> None:
        """Accept the model's `finish` (the run is over) or hand it the refusal."""
        state = self.run.state
        summary = str(call.arguments.get("summary", "")).strip()
        refusal = self._refusal()
        if refusal is None:
            state.summary = summary
            self.run.emit(ToolFinished(call_id=call.id, name="finish", ok=True, output="accepted"))
            self.run.tick_plan(list(range(len(state.plan))))
            raise Finished()
        state.tests.finish_refusals += 1
        self.run.emit(ToolFinished(call_id=call.id, name="finish", ok=False, output=refusal))
        state.messages.append(Message.tool_result(call, refusal))

    def _refusal(self) -> str | None:
        """Why `finish` cannot be accepted yet, or None. Verifies with the tests first: it is
        refused while a test that passed before fails (or no longer runs), or while none of the
        tests that showed the bug passes. Tests that failed before and still fail are no reason
        on their own: the report names them."""
        state, budgets = self.run.state, self.run.budgets
        if not self.worktree.has_changes():  # a fix needs a change; a stuck model ends on repeats or budgets
            return prompts.render(
                "finish_no_change", task=state.task, test_after_edit=budgets.loop.test_after_edit
            )
        if not state.tests.stand():  # a passing subset (-k one test) does not show nothing broke
            self.verify()
        tests = state.tests.last or {}
        if tests.get("ok") or tests.get("no_tests"):
            return self._held_back_refusal()
        evidence = judge(state.tests.baseline, tests, about_issue=state.tests.about_issue)
        if evidence.ran and not evidence.regressions and not evidence.lost:
            if evidence.unfixed:
                why = f"tests of the issue's own example still fail ({', '.join(evidence.unfixed[:4])})"
            elif evidence.fixed or not evidence.targets:
                return self._held_back_refusal()
            else:
                why = "none of the tests that failed before your change passes yet"
        elif evidence.regressions:
            why = f"tests that passed before your change fail now ({', '.join(evidence.regressions[:4])})"
        else:
            why = "the tests do not run through"
        return prompts.render(
            "finish_tests_fail",
            why=why,
            output=last_output(state.tests),
            test_after_edit=budgets.loop.test_after_edit,
        )

    def _held_back_refusal(self) -> str | None:
        """The refusal when the held-back test of the issue's other examples (held_back.py) fails
        on the change; None when it passes, or there is none."""
        held = held_back_of(self.run.state)
        missed = HeldBackCheck(self.tools, self.run.emit, held).missed()
        if not missed or held is None:
            return None
        return prompts.render(
            "finish_tests_fail",
            why=missed,
            output=held.output,
            test_after_edit=self.run.budgets.loop.test_after_edit,
        )


def _covers(baseline: dict[str, Any] | None, arguments: dict[str, Any], ran: dict[str, Any]) -> bool:
    """A run_tests selection the loop may use for its own runs after edits: one that holds every
    test that failed before any change. (The 1.5B model once ran `-k 'not <the failing test>'`,
    and every edit after it was then shown as passing.) A test is held when the run `ran` shows
    it failing, or, with no keyword (which could leave it out), when the paths include it."""
    shown = {str(t) for t in ran.get("failing", [])}
    failing = [str(t) for t in (baseline or {}).get("failing", []) if str(t) not in shown]
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


def _moved(before: Before, tests: dict[str, Any]) -> bool:
    """The edit changed some test's result (the run before it is known and shows otherwise)."""
    last, changed_since = before
    return last is not None and not changed_since and not same_result(last, tests)


def _how_many(count: float) -> str:
    return str(int(count)) if count != float("inf") else "no count (the tests did not run through)"
