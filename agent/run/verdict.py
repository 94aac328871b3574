"""The run's verdict, from evidence (agent/loop/evidence.py): what the report says and why.

`resolved` only when a test that failed before the change (the repository's own, or the verified
reproduction) passes after it, nothing that passed breaks, no test of the issue's own example
still fails (agent/loop/issue_examples.py) and the held-back test of the issue's other examples,
when there is one (agent/loop/held_back.py), passes on the change; `unverified` when no test failed
before (nothing can show the change fixes anything), with the reason; `not_resolved` otherwise.
The check for special-cased test values (agent/loop/gaming.py) runs on the final change too: the
report says whether the fix looks general.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.loop.evidence import Evidence, judge
from agent.loop.gaming import special_casing
from agent.loop.state import LoopState
from agent.loop.suite_source import failing_tests_source
from agent.run.report import EvidenceSummary, ReproductionSummary


class Verdict(BaseModel):
    status: str  # resolved | not_resolved | unverified
    reason: str
    evidence: EvidenceSummary
    reproduction: ReproductionSummary | None = None
    special_cased: str = ""  # why the change looks tailored to the tests' values; "" when not


def verdict_of(
    state: LoopState, files: list[str], root: Path, changes: list[tuple[str, str | None, str | None]]
) -> Verdict:
    """The verdict on the tree as the run leaves it (its tests ran last, `state.tests`)."""
    tests = state.tests
    now = tests.last if tests.stand() else None
    evidence = judge(tests.baseline, now, flaky=tests.flaky, about_issue=tests.about_issue)
    reproduction = _reproduction(state)
    status = evidence.verdict()
    reason = evidence.reason()
    if reproduction is not None and reproduction.kept and set(files) <= {reproduction.path}:
        status, reason = "not_resolved", "only the reproduction test was written; the code is unchanged"
    elif not evidence.targets and reproduction is not None and not reproduction.kept:
        reason = f"no faithful reproduction of the issue could be made ({reproduction.reason})"
    elif status == "resolved" and reproduction is not None and reproduction.held_back_passed is False:
        status = "not_resolved"
        reason += (
            f"; but the held-back test of the issue's other examples ({reproduction.held_back}) "
            "fails on the change, so it does not fix the issue in general"
        )
    special = ""
    if evidence.shown_fixed:
        special = special_casing(changes, failing_tests_source(root, evidence.targets))
    return Verdict(
        status=status,
        reason=reason,
        evidence=_summary(evidence),
        reproduction=reproduction,
        special_cased=special,
    )


def _summary(evidence: Evidence) -> EvidenceSummary:
    return EvidenceSummary(
        fixed=evidence.fixed,
        still_failing=evidence.still_failing,
        regressions=evidence.regressions,
        flaky=evidence.flaky,
    )


def _reproduction(state: LoopState) -> ReproductionSummary | None:
    result = state.reproduction
    if result is None:
        return None
    made = result.made
    if made is None:
        reason = result.reasons[-1] if result.reasons else "no time for a draft"
        return ReproductionSummary(reason=reason, drafts=result.drafts)
    held = result.held_back
    return ReproductionSummary(
        kept=True,
        path=made.path,
        tests=made.tests,
        reason=made.reason,
        drafts=result.drafts,
        held_back=", ".join(held.examples[:3]) if held is not None else "",
        held_back_passed=held.passed if held is not None else None,
    )
