"""The repository context packed again once the tests have run before any change.

The first pack is chosen from the issue's words alone. When tests fail before any change, their
traceback names the code the bug runs through: the frames (`lib/dates.py:40: in parse_date`),
the source lines they show and the error. Packed again with that beside the issue, the same
budget holds those definitions first (agent/context/rank.py gives a stack frame's definition its
bonus), which on a real repository with a small, time-sized budget is the difference between
the function with the bug in the prompt and a map entry naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.context.issue import parse_issue
from agent.loop.reproduce import ReproBrief, related_failures
from agent.loop.suite_runs import clip, ran_tests

Focus = Callable[[str], str]  # the context packed for the issue and this text (the failures)
FAILURE_CHARS = 4000
_SECTIONS = (" FAILURES ", " ERRORS ")  # pytest's `==== FAILURES ====` and `==== ERRORS ====`


def failure_text(output: str, limit: int = FAILURE_CHARS) -> str:
    """What of a test run's output says where the bug is: pytest's failure sections from their
    start (frames, the lines they show, the errors) when there are any, else the output's end."""
    starts = [at for at in (output.find(marker) for marker in _SECTIONS) if at >= 0]
    if not starts:
        return clip(output, limit, tail=True)
    begin = output.rfind("\n", 0, min(starts)) + 1
    return clip(output[begin:], limit)


def focused(
    context: str, focus: Focus | None, baseline: dict[str, Any] | None, brief: ReproBrief | None
) -> str:
    """The context for the rest of the run: packed again for the failures when tests ran and some
    failed before any change that are about the issue (`brief.names`: the code names it gives);
    otherwise (or with no way to pack) as it was: unrelated failures' frames would mislead."""
    if focus is None or not baseline or not ran_tests(baseline) or baseline.get("ok"):
        return context
    output = failure_text(str(baseline.get("output", "")))
    if not output.strip() or not _about_the_issue(baseline, output, brief.names if brief else []):
        return context
    return focus(output)


def _about_the_issue(baseline: dict[str, Any], failures: str, names: list[str]) -> bool:
    """A failing test is about the issue (agent/loop/reproduce.py), or a failure's traceback runs
    through a function the issue names."""
    if related_failures(baseline, names):
        return True
    functions = {frame.function for frame in parse_issue(failures).frames}
    return any(name in functions for name in names)
