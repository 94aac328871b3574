"""The report a run ends with: what changed, which tests ran, where the change is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from agent.events import Usage
from agent.repo.python_env import PythonEnv

Status = Literal["resolved", "not_resolved", "unverified", "no_change", "interrupted", "error"]


class TestSummary(BaseModel):
    __test__ = False  # not a pytest class

    command: str = ""
    ran: bool = False
    ok: bool = False
    passed: int = 0
    failed: int = 0
    errors: int = 0
    exit_code: int | None = None
    failing: list[str] = []


class PullRequestRef(BaseModel):
    """The pull request a headless run opened or updated (`--open-pr`, `agent pr`)."""

    number: int
    url: str
    action: Literal["opened", "updated"]
    branch: str  # the branch on the remote


class RepairSummary(BaseModel):
    """How the repair phase went (agent/loop/repair.py), when it ran."""

    replies: int = 0  # model replies drawn
    drafts: int = 0  # fixes tried on the tree with the tests
    resolved: bool = False  # one of them made the tests pass


class EvidenceSummary(BaseModel):
    """What the final tests show against the runs before any change."""

    fixed: list[str] = []  # failed before, pass now
    still_failing: list[str] = []  # failed before, fail now
    regressions: list[str] = []  # passed before, fail now
    flaky: list[str] = []  # failed once and passed once on the final tree: not counted as regressions


class ReproductionSummary(BaseModel):
    """How the reproduction phase went (agent/loop/reproduce.py), when it ran."""

    kept: bool = False
    path: str | None = None  # the test file it added (part of the change)
    tests: list[str] = []
    reason: str = ""  # why it was judged faithful, or why the last draft was refused
    drafts: int = 0
    held_back: str = ""  # the issue's examples a second test checks, held back from the repair
    held_back_passed: bool | None = None  # that test on the final change (None: none, or not run)


class RunReport(BaseModel):
    session_id: str
    task: str
    github_issue: int | None = None
    status: Status
    stop_reason: str
    # why the status: what the tests show (agent/verdict.py); "resolved" needs a test that failed
    # before the change to pass after it, "unverified" says why no test could show it
    verdict: str = ""
    evidence: EvidenceSummary | None = None
    reproduction: ReproductionSummary | None = None  # the test written from the issue, when tried
    special_cased: str = ""  # the change looks tailored to the tests' values: why ("" when not)
    summary: str = ""
    plan: list[str] = []
    engine: str = ""
    model: str = ""
    sandbox: str = ""
    branch: str | None = None
    commit: str | None = None
    patch_path: str | None = None
    trajectory_path: str | None = None
    files_changed: list[str] = []
    diff: str = ""
    tests: TestSummary = TestSummary()
    steps: int = 0
    attempts: int = 1  # attempts made: a stuck one is set aside and the task started again
    repair: RepairSummary | None = None
    tool_calls: int = 0
    model_errors: dict[str, int] = {}
    usage: Usage = Usage()
    elapsed_seconds: float = 0.0
    applied: bool = False
    pull_request: PullRequestRef | None = None
    notices: list[str] = []
    # the interpreter the tests ran with, how it was found, whether it imports pytest (None: a test
    # command was given, or there is no pytest suite); `test_env.problem()`: the tests could not run
    test_env: PythonEnv | None = None

    def exit_code(self) -> int:
        from agent.run.exitcodes import exit_code_for

        return exit_code_for(self)


def _usage_line(usage: Usage) -> str:
    return (
        f"tokens: {usage.prompt_tokens} prompt ({usage.prefilled_tokens} prefilled, "
        f"{usage.cached_tokens} from cache), {usage.generated_tokens} generated"
        + (f" at {usage.decode_tokens_per_second:.1f} tok/s" if usage.decode_seconds else "")
        + (
            f", {usage.accepted_tokens} of {usage.drafted_tokens} drafted kept ({usage.acceptance_rate:.0%})"
            if usage.drafted_tokens
            else ""
        )
    )


HEADLINES = {
    "resolved": "RESOLVED: the change is made and the tests pass",
    "not_resolved": "NOT RESOLVED",
    "unverified": "UNVERIFIED: changed, but no test shows the issue is fixed",
    "no_change": "NOT RESOLVED: the agent changed nothing",
    "interrupted": "INTERRUPTED: nothing was changed",
    "error": "ERROR",
}


def render_text(report: RunReport, diff_lines: int = 80) -> str:
    """A human summary of the report."""
    lines: list[str] = [f"== {HEADLINES[report.status]} ({report.stop_reason}) =="]
    if report.verdict:
        lines.append(f"verdict: {report.verdict}")
    if report.special_cased:
        lines.append(f"WARNING: the fix may not be general: {report.special_cased}")
    if report.reproduction is not None:
        repro = report.reproduction
        lines.append(
            f"reproduction: {repro.path} ({repro.reason})"
            if repro.kept
            else f"reproduction: none kept after {repro.drafts} drafts ({repro.reason})"
        )
        if repro.held_back:
            result = {True: "passes", False: "FAILS", None: "not run"}[repro.held_back_passed]
            lines.append(f"held-back test of {repro.held_back}: {result} on the change")
    if report.summary:
        lines.append(f"summary: {report.summary}")
    if report.plan:
        lines.append("plan:")
        lines.extend(f"  {i}. {step}" for i, step in enumerate(report.plan, 1))
    lines.extend(_tests_lines(report.tests))
    lines.extend(_change_lines(report, diff_lines))
    lines.extend(_effort_lines(report))
    if report.trajectory_path:
        lines.append(f"session log: {report.trajectory_path}")
    if report.pull_request:
        pr = report.pull_request
        lines.append(f"pull request #{pr.number} {pr.action}: {pr.url} (branch {pr.branch})")
    lines.extend(f"note: {n}" for n in report.notices)
    return "\n".join(lines)


def _tests_lines(t: TestSummary) -> list[str]:
    if not t.ran:
        return ["tests: none run"]
    verdict = "pass" if t.ok else "FAIL"
    lines = [f"tests: {verdict}: {t.passed} passed, {t.failed} failed, {t.errors} errors ({t.command})"]
    return lines + [f"  failing: {node}" for node in t.failing[:10]]


def _change_lines(report: RunReport, diff_lines: int) -> list[str]:
    """The files, the diff (its first `diff_lines` lines), the branch and the patch."""
    lines: list[str] = []
    if report.files_changed:
        lines.append("files changed: " + ", ".join(report.files_changed))
    if report.diff:
        diff = report.diff.splitlines()
        lines.append("diff:")
        lines.extend("  " + line for line in diff[:diff_lines])
        if len(diff) > diff_lines:
            lines.append(f"  ... {len(diff) - diff_lines} more lines in the patch file")
    if report.branch and report.commit:
        lines.append(f"branch: {report.branch} (commit {report.commit[:10]})")
        if report.applied:
            lines.append("applied to your working tree")
        else:
            lines.append(f"apply it with: agent apply {report.branch}")
    if report.patch_path and report.diff:
        lines.append(f"patch: {report.patch_path}")
    return lines


def _effort_lines(report: RunReport) -> list[str]:
    """Steps, calls and errors, the repair phase, tokens, and what it ran on."""
    errors = sum(report.model_errors.values())
    detail = ", ".join(f"{k}={v}" for k, v in sorted(report.model_errors.items()))
    lines = [
        f"steps: {report.steps}"
        + (f" in {report.attempts} attempts" if report.attempts > 1 else "")
        + f", tool calls: {report.tool_calls}, model errors: {errors}"
        + (f" ({detail})" if detail else "")
    ]
    if report.repair is not None:
        repair = report.repair
        lines.append(
            f"repair: {repair.drafts} drafts tried from {repair.replies} replies"
            + (", one made the tests pass" if repair.resolved else ", none made the tests pass")
        )
    lines.append(_usage_line(report.usage))
    lines.append(
        f"engine: {report.engine} / {report.model}, sandbox: {report.sandbox}, "
        f"time: {report.elapsed_seconds:.1f}s"
    )
    return lines


def report_dict(report: RunReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
