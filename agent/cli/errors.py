"""The errors a user can cause and fix, as the exit code and message every command reports."""

from __future__ import annotations

from agent.cli.headless import UsageError
from agent.config import ConfigError
from agent.engines.base import EngineError
from agent.github.api import GitHubError
from agent.github.publish import PublishError
from agent.loop import ContextTooSmall
from agent.models.resolution import ModelNotFound
from agent.run.exitcodes import EXIT_ENGINE, EXIT_PUBLISH, EXIT_USAGE
from agent.run.workspace import WorkspaceError
from sandbox.bubblewrap import SandboxUnavailable


def known_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for the errors a user can cause and fix; None for anything else."""
    if isinstance(exc, USER_ERRORS):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, EngineError):
        return EXIT_ENGINE, f"engine error: {exc}"
    if isinstance(exc, GitHubError):
        return EXIT_PUBLISH, str(exc)
    return None


USER_ERRORS = (
    ConfigError,
    WorkspaceError,
    ModelNotFound,
    ContextTooSmall,
    UsageError,
    PublishError,
    SandboxUnavailable,
)
