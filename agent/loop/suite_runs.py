"""What a test run's data says, read the same way by the loop's checks, attempts and edit sampling
and by the repair phase: how many tests fail, whether any ran, whether two runs showed the same
result, and its output clipped for a prompt."""

from __future__ import annotations

import re
from typing import Any

# timings and addresses: they differ between two runs that showed the same result
_VOLATILE = re.compile(r"\bin \d+(?:\.\d+)?s\b|0x[0-9a-fA-F]+|\b\d+(?:\.\d+)?(?:ms|s)\b")


def failing_count(tests: dict[str, Any] | None, baseline: dict[str, Any] | None = None) -> float:
    """Failing and erroring tests of a run; a run that did not happen, or failed with nothing
    counted (it timed out, the command broke), counts worst. With the `baseline` (the whole
    suite before any change), tests a whole-suite run no longer counts failed too: an edit that
    broke an import showed `0 passed, 1 error` and so ranked above one that left 2 failing."""
    if tests is None:
        return float("inf")
    failing = int(tests.get("failed") or 0) + int(tests.get("errors") or 0)
    if not failing and not tests.get("ok") and not tests.get("no_tests"):
        return float("inf")
    if baseline is not None and tests.get("whole_suite", True) and baseline.get("whole_suite", True):
        failing += max(0, counted(baseline) - counted(tests))
    return float(failing)


def counted(tests: dict[str, Any]) -> int:
    return sum(int(tests.get(key) or 0) for key in ("passed", "failed", "errors"))


def ran_tests(data: dict[str, Any]) -> bool:
    """A test run that collected and ran at least one test."""
    return not data.get("no_tests") and counted(data) > 0


def result_signature(tests: dict[str, Any] | None) -> tuple[frozenset[str], str] | None:
    """What a test run showed, for telling whether an edit changed any test's result: the failing
    tests and the failure lines (pytest's `E ` lines, else the whole output), with timings and
    addresses taken out. None: no run, or one that counted nothing."""
    if tests is None or not ran_tests(tests):
        return None
    output = str(tests.get("output", ""))
    lines = [line.strip() for line in output.splitlines() if line.startswith("E ")]
    shown = "\n".join(lines) if lines else output
    return frozenset(str(t) for t in tests.get("failing", [])), _VOLATILE.sub("", shown)


def same_result(before: dict[str, Any] | None, tests: dict[str, Any]) -> bool:
    """`tests` show what the run `before` them showed: the same failures, the same errors."""
    shown = result_signature(tests)
    return shown is not None and shown == result_signature(before)


def clip(text: str, limit: int, tail: bool = False) -> str:
    """At most `limit` characters of `text`, whole lines, saying how much was left out."""
    if len(text) <= limit:
        return text.strip("\n")
    lines = text.strip("\n").splitlines()
    kept: list[str] = []
    size = 0
    for line in reversed(lines) if tail else lines:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    cut = f"[{len(lines) - len(kept)} lines left out]"
    return "\n".join([cut, *reversed(kept)] if tail else [*kept, cut])


def failure_lines(tests: dict[str, Any] | None) -> set[str]:
    """The failure lines of a run (pytest's `E ` lines and its FAILED/ERROR summary), with timings
    and addresses taken out."""
    output = str((tests or {}).get("output", ""))
    lines = [line.strip() for line in output.splitlines() if line.startswith(("E ", "FAILED ", "ERROR "))]
    return {_VOLATILE.sub("", line) for line in lines}


def failures_as_before(before: dict[str, Any] | None, tests: dict[str, Any]) -> bool:
    """Every failure `tests` show was shown, word for word, by the run `before` them: what still
    fails was not touched (a test that fails for reasons of its own)."""
    return failure_lines(tests) <= failure_lines(before)
