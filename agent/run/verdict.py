"""The run's verdict, from evidence (agent/loop/evidence.py): what the report says and why.

`resolved` only when a test that failed before the change (the repository's own, or the verified
reproduction) passes after it, nothing that passed breaks and no test about the issue still fails
(agent/run/issue_tests.py); `unverified` when no test failed
before (nothing can show the change fixes anything), with the reason; `not_resolved` otherwise.
The check for special-cased test values (agent/loop/gaming.py) runs on the final change too: the
report says whether the fix looks general.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.loop.evidence import Evidence, judge, listed
from agent.loop.gaming import failing_tests_source, special_casing
from agent.loop.state import LoopState
from agent.run.issue_tests import about_the_issue, defined_issue_names
from agent.run.report import EvidenceSummary, ReproductionSummary


class Verdict(BaseModel):
    status: str  # resolved | not_resolved | unverified
    reason: str
    evidence: EvidenceSummary
    reproduction: ReproductionSummary | None = None
    special_cased: str = ""  # why the change looks tailored to the tests' values; "" when not


def verdict_of(
    state: LoopState,
    files: list[str],
    root: Path,
    changes: list[tuple[str, str | None, str | None]],
    cache: Path | None = None,
) -> Verdict:
    """The verdict on the tree as the run leaves it (its tests ran last, `state.tests`); `cache`:
    where the repository's parses are kept (agent/run/issue_tests.py reads its definitions)."""
    tests = state.tests
    now = tests.last if tests.stand() else None
    evidence = judge(tests.baseline, now, flaky=tests.flaky)
    reproduction = _reproduction(state)
    status = evidence.verdict()
    reason = evidence.reason()
    unfixed = _unfixed_issue_tests(state, evidence, root, cache) if status == "resolved" else []
    if unfixed:
        status = "not_resolved"
        reason += (
            f"; {listed(unfixed)} {'is' if len(unfixed) == 1 else 'are'} about the issue, so it is not fixed"
        )
    if reproduction is not None and reproduction.kept and set(files) <= {reproduction.path}:
        status, reason = "not_resolved", "only the reproduction test was written; the code is unchanged"
    elif not evidence.targets and reproduction is not None and not reproduction.kept:
        reason = f"no faithful reproduction of the issue could be made ({reproduction.reason})"
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


def _unfixed_issue_tests(state: LoopState, evidence: Evidence, root: Path, cache: Path | None) -> list[str]:
    """The tests still failing that are about the issue: the verified reproduction's, and those
    whose id or failure before any change names code of the issue (agent/run/issue_tests.py)."""
    still = evidence.still_failing
    if not still:
        return []
    made = state.reproduction.made if state.reproduction is not None else None
    reproduced = [t for t in still if made is not None and t in made.tests]
    output = str((state.tests.baseline or {}).get("output", ""))
    named = about_the_issue(still, output, defined_issue_names(state.task, root, cache))
    return list(dict.fromkeys([*reproduced, *named]))


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
    return ReproductionSummary(
        kept=True, path=made.path, tests=made.tests, reason=made.reason, drafts=result.drafts
    )
