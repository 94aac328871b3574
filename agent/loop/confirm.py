"""Before the verdict: a regression must happen twice. When the final run of the whole suite shows
tests that passed before the change and fail now, the suite runs once more on the same tree; a test
that fails in one run and passes in the other is flaky (a pager, a clock, a port, test order), not
broken by the change, and the report says so instead of calling the change a regression. Tests that
fail in both runs stay regressions.
"""

from __future__ import annotations

from typing import Protocol

from agent.loop.evidence import failing_ids, judge
from agent.loop.state import LoopState


class SuiteRerun(Protocol):
    """What `confirm_regressions` needs of the loop: one more run of the whole suite."""

    def verify(self, state: LoopState, call_id: str) -> None: ...

    def time_left(self) -> float: ...


def confirm_regressions(state: LoopState, loop: SuiteRerun) -> list[str]:
    """Run the suite again when the final run shows regressions; record (and return) the tests
    whose result differs between the two runs in `state.tests.flaky`."""
    tests = state.tests
    if not tests.stand() or tests.last is tests.baseline:
        return []
    first = tests.last
    if not judge(tests.baseline, first).regressions or loop.time_left() <= 0:
        return []
    loop.verify(state, "confirm_verify")
    second = tests.last
    if second is None or not tests.stand() or second.get("timed_out"):
        tests.last = first  # the second run showed nothing: the first one stands
        return []
    before = set(failing_ids(tests.baseline))
    once, twice = set(failing_ids(first)), set(failing_ids(second))
    tests.flaky = sorted((once ^ twice) - before)
    return tests.flaky
