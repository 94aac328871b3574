"""Attempts: a stuck attempt's change is set aside and the task started again from the plan, told
what that attempt changed and how the tests failed; when no attempt fixes it, the run leaves the
best attempt's change. Over the `Worktree` protocol (agent/loop/base.py).
"""

from __future__ import annotations

from collections.abc import Callable

import prompts
from agent.loop.base import Worktree
from agent.loop.checks import last_output
from agent.loop.errors import STUCK
from agent.loop.state import Run, SetAside
from agent.loop.suite_runs import clip, failing_count
from agent.messages import Message

ATTEMPT_DIFF_CHARS = 1500
ATTEMPT_TESTS_CHARS = 1200


class Attempts:
    """The attempts of one run, over its `Worktree`."""

    def __init__(self, run: Run, worktree: Worktree, verify: Callable[[str], None]) -> None:
        """`verify`: runs the whole suite on the tree as it is, under the given call id."""
        self.run = run
        self.worktree = worktree
        self.verify = verify

    def try_again(self, opening: list[Message]) -> bool:
        """After a stuck attempt: set its change aside and start again from `opening` (the
        conversation after the plan), told what it did and how the tests failed (the next attempt
        is sampled, not greedy). False: the run is over."""
        state, budgets = self.run.state, self.run.budgets
        if (
            state.stop_reason not in STUCK
            or state.attempt >= budgets.loop.max_attempts
            or self.run.time_left() < budgets.attempt_min_seconds
            or budgets.loop.max_steps - state.steps < 3
        ):
            return False
        if self.worktree.has_changes() and not state.tests.stand():  # how it fares, for the next attempt
            self.verify(f"attempt_{state.attempt}_verify")
        standing = state.tests.last if state.tests.stand() else None
        diff = self.worktree.set_aside()
        if diff:
            state.set_aside.append(SetAside(state.attempt, diff, standing))
        last_tests = state.tests.last
        tests = last_output(state.tests) if last_tests and not last_tests.get("ok") else ""
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
        self.run.notice(
            f"attempt {state.attempt} of {budgets.loop.max_attempts}: the last one {STUCK[reason]}; "
            f"its change ({len(diff.splitlines())} diff lines) was set aside and the task started again",
            "warning",
        )
        return True

    def keep_best(self) -> None:
        """When the last attempt did not fix it, the change left on the tree is the best attempt's:
        the fewest failing tests where they ran, and any change over none (a person reviews it)."""
        state = self.run.state
        if not state.set_aside:
            return
        baseline = state.tests.baseline
        standing = state.tests.last if state.tests.stand() else None
        if standing is not None and standing.get("ok"):
            return
        best = min(state.set_aside, key=lambda a: failing_count(a.tests, baseline))
        if self.worktree.has_changes() and failing_count(standing, baseline) <= failing_count(
            best.tests, baseline
        ):
            return
        self.worktree.set_aside()
        self.worktree.restore(best.diff)
        state.tests.last, state.tests.changed_since = best.tests, best.tests is None
        tests = best.tests or {}
        said = f"{tests.get('failed', 0)} failing tests" if best.tests is not None else "tests not run on it"
        self.run.notice(f"kept the change of attempt {best.attempt} ({said}): the best of {state.attempt}")
