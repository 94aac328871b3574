"""How many tokens of repository context a run gets, and parsing `32k`-style budgets."""

from __future__ import annotations

import re

MAX_BUDGET = 200_000
MIN_RESERVE = 3072  # the system prompt and tool schemas (~1.5K), a reply, and a tool result or two
MAX_RESERVE = 32_768
_TOKENS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def conversation_reserve(context_length: int) -> int:
    """Room kept for the system prompt, tool schemas, tool outputs and replies."""
    return min(max(context_length // 2, MIN_RESERVE), MAX_RESERVE)


def resolve_budget(setting: int | str | None, context_length: int) -> int:
    """`None`/"auto": min(200K, the context minus the reserve); a number is capped to what fits."""
    fits = max(0, context_length - MIN_RESERVE)
    if setting is None or (isinstance(setting, str) and setting.strip().lower() == "auto"):
        return max(0, min(MAX_BUDGET, context_length - conversation_reserve(context_length)))
    value = setting if isinstance(setting, int) else parse_tokens(setting)
    return max(0, min(value, fits))


def parse_tokens(text: str) -> int:
    """`8000`, `32k`, `1.5M` -> tokens; ValueError with the accepted forms otherwise."""
    match = _TOKENS.match(text)
    if match is None:
        raise ValueError(f"not a token count: {text!r} (use e.g. 8000, 32k or 0.2M)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1000, "m": 1_000_000}[unit])
