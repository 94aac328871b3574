"""Reading the model's numbered plan out of free text."""

from __future__ import annotations

import re

_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.+?)\s*$")


def parse_plan(text: str, max_steps: int = 8) -> list[str]:
    """Numbered or bulleted lines become steps; otherwise the non-empty lines do."""
    lines = [line for line in text.splitlines() if line.strip()]
    steps = [m.group(1) for line in lines if (m := _NUMBERED.match(line))]
    if not steps:
        steps = [line.strip() for line in lines]
    return [s.strip("*` ") for s in steps[:max_steps] if s.strip("*` ")]


# ---- ticking the plan by observed progress ------------------------------------------------------
#
# The model's plan is free text, so a step is ticked only on evidence the loop can see: a
# successful tool call of the kind the step names. "Read stats.py" is ticked by the first
# successful read/search/list after the plan; "Fix the even case" by a successful edit; "Run the
# tests" by a passing test run; an accepted `finish` ticks every step. A tick therefore means
# "an action of this kind succeeded", never that the model says it is done.

_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "test": ("test", "verify", "confirm", "check that", "pytest", "run"),
    "edit": (
        "fix",
        "edit",
        "change",
        "modify",
        "update",
        "add",
        "implement",
        "replace",
        "correct",
        "write",
        "create",
        "patch",
        "handle",
        "rewrite",
        "remove",
    ),
    "inspect": (
        "read",
        "look",
        "inspect",
        "find",
        "locate",
        "search",
        "open",
        "examine",
        "review",
        "understand",
        "identify",
        "investigate",
        "check",
        "explore",
        "list",
    ),
}
_STEP_KINDS = {"read": "inspect", "edit": "edit"}  # a tool's kind (tools/base.py) -> a step's


def step_kind(step: str) -> str:
    """ "inspect", "edit", "test" or "other": the kind whose word comes first ("Read the test" reads)."""
    text = step.lower()
    found = [
        (match.start(), kind)
        for kind, needles in _KIND_WORDS.items()
        for needle in needles
        if (match := re.search(rf"\b{re.escape(needle)}", text))
    ]
    return min(found)[1] if found else "other"


def action_kind(kind: str | None, tool: str, ok: bool, data: dict[str, object]) -> str | None:
    """The plan-step kind a finished call of `tool` (of `kind`, tools/base.py) is evidence for, or None."""
    if not ok:
        return None
    if tool == "run_tests":
        return "test" if data.get("ok") else None
    return _STEP_KINDS.get(kind or "")


def tick(plan: list[str], done: list[int], kind: str) -> list[int]:
    """Tick the first unticked step of `kind` (and the unclassifiable steps before it)."""
    for index, step in enumerate(plan):
        if index not in done and step_kind(step) == kind:
            before = [i for i in range(index) if i not in done and step_kind(plan[i]) == "other"]
            return sorted({*done, *before, index})
    return done
