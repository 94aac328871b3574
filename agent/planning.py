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
