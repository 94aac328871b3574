"""Headless runs (CI, scripts, batch workers): where the task comes from, and the JSON event stream.

Headless is on with `--headless`, when standard input is not a terminal, or when CI=true. It never
asks anything: what needs a person's yes (every command under `approval = "always"`, an MCP tool
that asks) is refused, with a message saying so. With `--json`, stdout carries one
`RunEvent` per line (the trajectory's types, live-only events left out) and the last line is always
the `run_finished` event holding the report, the exit code and the error if there was one; also
when the run never started (a usage or engine error, Ctrl-C while the model loads).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic_core import PydanticSerializationError

from agent.errors import UserError
from agent.events import RUN_EVENT_ADAPTER, RunEvent, RunFinished, live_only, printable
from agent.formats.jsonrepair import no_surrogates
from agent.run.exitcodes import ERROR_STOP_REASONS, EXIT_INTERRUPTED
from agent.run.report import RunReport, report_dict


class UsageError(UserError):
    """The command line is wrong in a way the user must fix (exit code 2)."""


def headless_mode(flag: bool, stdin: TextIO | None, env: Mapping[str, str]) -> bool:
    if flag or env.get("CI", "").strip().lower() in ("true", "1"):
        return True
    try:
        return stdin is None or not stdin.isatty()
    except ValueError:  # a closed stream
        return True


@dataclass(frozen=True)
class TaskInput:
    text: str
    issue: int | None = None  # the GitHub issue number it came from


IssueFetcher = Callable[[int], tuple[str, str]]  # number -> (title, body)


def read_task(
    text: str | None,
    issue_file: Path | None,
    github_issue: int | None,
    stdin: TextIO | None,
    fetch_issue: IssueFetcher,
) -> TaskInput:
    """The task from exactly one source: the text argument (`-` reads stdin), a file, or an issue.
    Bytes that are not UTF-8 (in an argument) and lone surrogate escapes (in an issue's JSON)
    become U+FFFD: the task goes into prompts, events and a commit message."""
    task = _read_task(text, issue_file, github_issue, stdin, fetch_issue)
    return TaskInput(text=str(no_surrogates(task.text)), issue=task.issue)


def _read_task(
    text: str | None,
    issue_file: Path | None,
    github_issue: int | None,
    stdin: TextIO | None,
    fetch_issue: IssueFetcher,
) -> TaskInput:
    given = [name for name, value in (("text", text), ("file", issue_file), ("issue", github_issue)) if value]
    if len(given) != 1:
        raise UsageError(
            "give the task exactly one way: as text, `-` to read it from stdin, --issue-file PATH "
            "or --github-issue NUMBER"
        )
    if github_issue is not None:
        title, body = fetch_issue(github_issue)
        return TaskInput(text=f"{title.strip()}\n\n{body.strip()}".strip(), issue=github_issue)
    if issue_file is not None:
        try:
            return TaskInput(text=_non_empty(issue_file.read_text(encoding="utf-8"), str(issue_file)))
        except OSError as exc:
            raise UsageError(f"cannot read the issue file {issue_file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"the issue file {issue_file} is not UTF-8 text: {exc.reason}") from exc
    if text == "-":
        if stdin is None:
            raise UsageError("`-` reads the task from stdin, but there is no stdin")
        try:
            return TaskInput(text=_non_empty(stdin.read(), "stdin"))
        except UnicodeDecodeError as exc:
            raise UsageError(f"the task on stdin is not UTF-8 text: {exc.reason}") from exc
    return TaskInput(text=_non_empty(text or "", "the task"))


def _non_empty(text: str, where: str) -> str:
    if not text.strip():
        raise UsageError(f"{where} is empty: describe the issue to fix")
    return text.strip()


class JsonEvents:
    """Writes run events as JSON lines, holding `run_finished` back so it can be written last,
    after anything that happens once the run is over (a pull request). `fail` writes it for a run
    that never started, so the stream always ends with one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.finished = False

    def __call__(self, event: RunEvent) -> None:
        if live_only(event) or isinstance(event, RunFinished):
            return
        self._write(event)

    def finish(self, report: RunReport, exit_code: int | None = None, error: str | None = None) -> None:
        self._write(RunFinished(report=report_dict(report), exit_code=exit_code, error=error))
        self.finished = True

    def fail(self, exit_code: int, error: str, task: str = "") -> None:
        """The last line for a run that ended before it had a report of its own."""
        self.finish(stopped_report(exit_code, error, task), exit_code, error)

    def _write(self, event: RunEvent) -> None:
        try:
            line = RUN_EVENT_ADAPTER.dump_json(event)
        except PydanticSerializationError:  # a lone surrogate in a model's text or a file name
            line = RUN_EVENT_ADAPTER.dump_json(printable(event))
        self.out.write(line.decode("utf-8") + "\n")
        self.out.flush()


def stopped_report(exit_code: int, error: str, task: str = "") -> RunReport:
    """The report of a run stopped before it had one: by an error (status "error", the stop reason
    naming its kind) or by Ctrl-C (status "interrupted")."""
    interrupted = exit_code == EXIT_INTERRUPTED
    return RunReport(
        session_id="",
        task=task,
        status="interrupted" if interrupted else "error",
        stop_reason="interrupted" if interrupted else ERROR_STOP_REASONS.get(exit_code, "internal_error"),
        notices=[error],
    )


def report_from_stream(stdout: str) -> dict[str, Any]:
    """The report of a `--json` run: the `run_finished` event on the last line."""
    for line in reversed(stdout.splitlines()):
        if line.strip():
            event = json.loads(line)
            if event.get("kind") == "run_finished":
                return dict(event["report"])
            break
    raise ValueError("the output has no run_finished event on its last line")
