"""The exit codes of every `agent` command (documented in the README)."""

from __future__ import annotations

from typing import Protocol

EXIT_OK = 0  # resolved and verified by the tests (and the pull request opened, when asked)
EXIT_NOT_RESOLVED = 1  # the run ended without a verified change
EXIT_USAGE = 2  # a usage or configuration error the user must fix
EXIT_ENGINE = 3  # the engine failed (model not loadable, server unreachable), or a bug of ours
EXIT_PUBLISH = 4  # pushing the branch or the GitHub API failed (the branch and patch are kept)
EXIT_UNVERIFIED = 5  # a change was made, but no test that failed before shows it fixes the issue
EXIT_INTERRUPTED = 130  # Ctrl-C: the repository is exactly as it was
EXIT_BROKEN_PIPE = 141  # stdout was closed early (`agent ... | head`): 128 + SIGPIPE, as the shell shows it

# a report's stop_reason when the run ended in an error, by exit code
ERROR_STOP_REASONS = {EXIT_USAGE: "usage_error", EXIT_ENGINE: "engine_error", EXIT_PUBLISH: "publish_error"}


class Outcome(Protocol):
    """What the exit code depends on (a RunReport; kept structural so this module imports nothing)."""

    @property
    def status(self) -> str: ...

    @property
    def stop_reason(self) -> str: ...


def exit_code_for(report: Outcome) -> int:
    """`agent fix`'s exit code for a report (publishing may change it afterwards)."""
    if report.status == "resolved":
        return EXIT_OK
    if report.status == "interrupted":
        return EXIT_INTERRUPTED
    if report.status == "unverified":
        return EXIT_UNVERIFIED
    if report.status == "error":
        codes = {reason: code for code, reason in ERROR_STOP_REASONS.items()}
        return codes.get(report.stop_reason, EXIT_ENGINE)  # engine_error, internal_error
    return EXIT_NOT_RESOLVED
