"""How a run of the loop ends early: `StopRun` and its family; and the refusal to start at all.

A `StopRun` ends the attempt's steps; its `reason` goes into the report as the run's stop reason,
and its message, when it says more, into the run's notices.
"""

from __future__ import annotations

from agent.errors import UserError


class ContextTooSmall(UserError):
    """The model's context cannot hold the system prompt, the tool schemas and the task."""


class StopRun(Exception):
    """Ends the act loop; `reason` goes into the report."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class Finished(StopRun):
    """The model's `finish` was accepted: the change stands and the tests pass."""

    def __init__(self) -> None:
        super().__init__("finished")


class LimitsExceeded(StopRun):
    """A budget is used up: "max_steps", "max_time", "max_tokens" or "context_full"."""


# the ways an attempt gets stuck, as the next attempt is told them (agent/loop/attempts.py)
STUCK = {
    "repeated_call": "went round in circles, repeating calls",
    "no_progress": "stopped calling tools",
    "no_improvement": "kept making edits that did not make fewer tests fail",
}


class Stuck(StopRun):
    """The attempt goes nowhere (one of `STUCK`); another attempt may help."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in STUCK, reason
        super().__init__(reason, message)


class StoppedByUser(StopRun):
    """The user ended the run while it was paused for their guidance."""

    def __init__(self) -> None:
        super().__init__("interrupted", "the user ended the run")
