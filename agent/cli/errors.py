"""Every command reports an error the user can fix (agent/errors.py `UserError`) the same way, as
an exit code and a message; an engine's and GitHub's failures have their own codes."""

from __future__ import annotations

from agent.engines.base import EngineError
from agent.errors import UserError
from agent.github.api import GitHubError
from agent.run.exitcodes import EXIT_ENGINE, EXIT_PUBLISH, EXIT_USAGE


def known_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for the errors a user can cause and fix; None for anything else."""
    if isinstance(exc, UserError):  # isinstance: SandboxUnavailable is a registered UserError
        return EXIT_USAGE, str(exc)
    if isinstance(exc, EngineError):
        return EXIT_ENGINE, f"engine error: {exc}"
    if isinstance(exc, GitHubError):
        return EXIT_PUBLISH, str(exc)
    return None
