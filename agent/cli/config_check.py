"""Numbers no setting may hold: NaN, an infinity, a negative count or size, a duration of zero.

pydantic takes `nan` and `inf` (TOML has both, and `--max-minutes nan` parses) for any float
field: a NaN budget never ran out, an infinite timeout never fired, `command_timeout = nan` crashed
the shell tool, and a negative resource limit became "unlimited" (-1 is RLIM_INFINITY). The merged
config is checked once, after flags and files are combined, and the error names the setting.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

from agent.config import AgentConfig, ConfigError, user_config_path
from agent.config_env import env_name

# durations in seconds or minutes: above zero, not only finite
DURATIONS = frozenset(
    {"max_minutes", "command_timeout", "setup_timeout", "timeout", "startup_timeout", "tool_timeout"}
)


def _shown(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return str(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _problem(key: str, value: float) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number" + (" above 0" if key in DURATIONS else "")
    if key in DURATIONS and value <= 0:
        return "must be above 0"
    if value < 0:
        return "must not be negative"
    return None


def _numbers(value: Any, where: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _numbers(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _numbers(inner, f"{where}.{index}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield where, value


def check_numbers(config: AgentConfig, env: Mapping[str, str] = os.environ) -> AgentConfig:
    """`config` when every number in it is usable, else a `ConfigError` naming each one that is not
    (and the `AGENT_*` variable it came from, when one is set)."""
    problems = []
    variables = {name.upper() for name, value in env.items() if value}
    for where, value in _numbers(config.file_dump(), ""):
        problem = _problem(where.rsplit(".", 1)[-1], value)
        if problem:
            source = f" (environment variable {env_name(where)})" if env_name(where) in variables else ""
            problems.append(f"{where} = {_shown(value)}{source}: {problem}")
    if problems:
        raise ConfigError(
            "invalid setting: "
            + "; ".join(problems)
            + f" (from a flag, an AGENT_* variable, --config, {user_config_path()} or .agent.toml)"
        )
    return config


def _finite(text: str, what: str, above_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (above_zero and value == 0):
        bound = "above 0" if above_zero else "0 or more"
        raise argparse.ArgumentTypeError(f"must be a finite number of {what} {bound}, not {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    return _finite(text, "seconds", above_zero=True)


def gigabytes(text: str) -> float:
    """An argparse type: a finite, non-negative number of gigabytes."""
    return _finite(text, "GB", above_zero=False)


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return value
