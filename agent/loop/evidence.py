"""What the tests show about a change, and the verdict that follows: honest, from evidence only.

A change is shown to fix the issue when a test that failed before it (one of the repository's own,
or the reproduction test the run verified against the issue: agent/loop/reproduce.py) passes after
it, and no test that passed before it fails after it. Tests that already failed before any change
and still fail are reported, never a reason to refuse `finish` or to set a correct change aside:
real repositories often hold tests that fail in a given environment.

With no test that failed before (none in the repository, no faithful reproduction), nothing shows
the change fixes anything: the verdict is `unverified`, whatever the suite says. A user reads
`resolved` as "fixed", so it is only ever said with a test to back it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel

from agent.loop.suite_runs import counted, ran_tests

Verdict = Literal["resolved", "not_resolved", "unverified"]


class Evidence(BaseModel):
    """One test run judged against the runs before any change."""

    targets: list[str] = []  # tests that failed before the change: the bug's evidence
    fixed: list[str] = []  # of those, passing now
    still_failing: list[str] = []  # of those, failing now (reported; never blocking on its own)
    unfixed: list[str] = []  # of those, the ones that check the issue's own example: not fixed
    regressions: list[str] = []  # tests that passed before and fail now
    flaky: list[str] = []  # failed in one of two runs of the final tree, passed in the other: no regression
    lost: int = 0  # tests the run no longer counts (an import broke, a file went missing)
    ran: bool = False  # the run ran tests and counted them

    @property
    def shown_fixed(self) -> bool:
        """A test that failed before passes now, nothing that passed before fails, and no test of
        the issue's own example (or the reproduction) still fails."""
        return self.ran and bool(self.fixed) and not self.regressions and not self.lost and not self.unfixed

    @property
    def complete(self) -> bool:
        """Every test that failed before passes now, and nothing broke."""
        return self.shown_fixed and not self.still_failing

    def verdict(self) -> Verdict:
        if not self.targets:
            return "unverified"
        return "resolved" if self.shown_fixed else "not_resolved"

    def reason(self) -> str:
        """One line on what the tests show, for the report and the model."""
        if not self.ran:
            return "the tests did not run through on the final code"
        if not self.targets:
            return "no test failed before the change, so no test shows that it fixes the issue"
        parts = [f"{len(self.fixed)} of {len(self.targets)} test(s) that failed before now pass"]
        if self.regressions:
            parts.append(f"{len(self.regressions)} that passed before now fail: {_names(self.regressions)}")
        if self.lost:
            parts.append(f"{self.lost} test(s) no longer run")
        if self.flaky:
            parts.append(f"flaky (failed once, passed when the suite ran again): {_names(self.flaky)}")
        if self.still_failing:
            parts.append(f"still failing as before: {_names(self.still_failing)}")
        if self.unfixed:
            parts.append(f"so the issue is not fixed: {_names(self.unfixed)} check(s) its own example")
        return "; ".join(parts)


WHOLE_COMMAND = "(the test command)"  # a run that names no test: the command as one test


def failing_ids(tests: dict[str, Any] | None) -> list[str]:
    """The failing tests of a run; a failing command that counted none (not pytest) as one."""
    data = tests or {}
    failing = [str(t) for t in data.get("failing", [])]
    if not failing and _command_only(data) and not data.get("ok"):
        return [WHOLE_COMMAND]
    return failing


def _command_only(data: dict[str, Any]) -> bool:
    """A run of a test command whose output counts no test (not pytest): its exit code is all."""
    return not data.get("counts_known") and data.get("exit_code") is not None and not data.get("no_tests")


def _ran(data: dict[str, Any] | None) -> bool:
    """A run that shows something: tests counted, or a test command that ran to its end."""
    if data is None or data.get("timed_out"):
        return False
    return ran_tests(data) or _command_only(data)


def judge(
    baseline: dict[str, Any] | None,
    now: dict[str, Any] | None,
    reproduction: Iterable[str] = (),
    flaky: Iterable[str] = (),
    about_issue: Iterable[str] = (),
) -> Evidence:
    """The run `now` against the `baseline` (the whole suite before any change) and the tests of a
    verified `reproduction` (they failed on the code before the change; not in the baseline).
    `flaky`: tests seen both failing and passing on the tree as it is now (confirm.py); never
    regressions. `about_issue`: tests that failed before because of the issue (its own example,
    the reproduction): still failing, they say it is not fixed."""
    before = failing_ids(baseline)
    targets = list(dict.fromkeys([*before, *reproduction]))
    if now is None or not _ran(now):
        return Evidence(targets=targets, still_failing=targets)
    failing = failing_ids(now)
    failing_now = set(failing)
    known, unsure, issue = set(targets), set(flaky), set(about_issue)
    lost = 0
    if baseline is not None and ran_tests(baseline) and ran_tests(now) and now.get("whole_suite", True):
        lost = max(0, counted(baseline) + len(list(reproduction)) - counted(now))
    still_failing = [t for t in targets if t in failing_now or _in_failing_file(t, failing_now)]
    return Evidence(
        targets=targets,
        fixed=[t for t in targets if t not in failing_now and not _in_failing_file(t, failing_now)],
        still_failing=still_failing,
        unfixed=[t for t in still_failing if t in issue],
        regressions=[t for t in failing if t not in known | unsure and not _covers_target(t, targets)],
        flaky=sorted(unsure - known),
        lost=lost,
        ran=True,
    )


def _in_failing_file(test: str, failing: set[str]) -> bool:
    """A collection error names the file (`ERROR tests/test_x.py`): its tests did not pass."""
    return test.split("::", 1)[0] in failing


def _covers_target(failing: str, targets: list[str]) -> bool:
    """A failing file-level entry (a collection error) for a file whose tests failed before."""
    return "::" not in failing and any(t.split("::", 1)[0] == failing for t in targets)


def _names(tests: list[str], limit: int = 4) -> str:
    shown = ", ".join(tests[:limit])
    return shown + (f" and {len(tests) - limit} more" if len(tests) > limit else "")
