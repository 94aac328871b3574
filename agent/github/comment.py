"""A run's report as a GitHub comment: what the reusable action (action.yml) posts on the pull
request the run opened, or on the issue when there is none, and writes to the job's step summary.

    python -m agent.github.comment --events EVENTS.jsonl --exit-code N [--issue N] [--no-post]

It reads the last `run_finished` event of `agent fix --json` (also written when the run never
started), so a comment says what went wrong even then. The token, the repository and the API come
from the environment GitHub Actions sets: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL; the
step summary and the step outputs go to the files GITHUB_STEP_SUMMARY and GITHUB_OUTPUT name.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError

from agent.github.api import DEFAULT_API_URL, GitHubClient, GitHubError
from agent.run.report import HEADLINES, RunReport

MARKER = "<!-- local-agent report -->"
DIFF_LINES = 120


@dataclass(frozen=True)
class Finished:
    """The last event of a run: its report (None when it could not be read), exit code and error."""

    report: RunReport | None
    exit_code: int | None
    error: str | None


def last_finished(events: str) -> Finished | None:
    """The `run_finished` event of a JSON-lines stream, searched from the end; None if there is none."""
    for line in reversed(events.splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("kind") != "run_finished":
            continue
        try:
            report: RunReport | None = RunReport.model_validate(event.get("report"))
        except ValidationError:
            report = None
        return Finished(report, event.get("exit_code"), event.get("error"))
    return None


def _tests_line(report: RunReport) -> str:
    t = report.tests
    if not t.ran:
        return "**Tests**: none run"
    verdict = "passed" if t.ok else "FAILED"
    return f"**Tests**: `{t.command}` {verdict} ({t.passed} passed, {t.failed} failed, {t.errors} errors)"


def _diff_block(report: RunReport) -> list[str]:
    if not report.diff:
        return []
    lines = report.diff.splitlines()
    shown = "\n".join(lines[:DIFF_LINES])
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", shown)), default=0))
    if len(lines) > DIFF_LINES:
        shown += f"\n... {len(lines) - DIFF_LINES} more lines in the run's artifact"
    title = f"The change ({', '.join(report.files_changed) or 'diff'})"
    return ["<details>", f"<summary>{title}</summary>", "", f"{fence}diff", shown, fence, "</details>", ""]


def _report_lines(report: RunReport) -> list[str]:
    lines = [f"**{HEADLINES[report.status]}** (`{report.stop_reason}`)", ""]
    if report.pull_request is not None:
        pr = report.pull_request
        lines += [f"Pull request #{pr.number} {pr.action}: {pr.url} (branch `{pr.branch}`)", ""]
    if report.summary:
        lines += [f"**Summary**: {report.summary}", ""]
    if report.verdict:
        lines += [f"**Verdict**: {report.verdict}", ""]
    lines += [_tests_line(report), ""]
    if report.pull_request is None:  # the pull request shows the change itself
        lines += _diff_block(report)
    if report.engine:  # a run that never started has no engine, model or sandbox to name
        lines += [
            f"**Run**: {report.model or 'no model'} ({report.engine} engine), {report.steps} steps, "
            f"{report.tool_calls} tool calls, {report.elapsed_seconds:.0f}s, sandbox {report.sandbox}",
            "",
        ]
    return lines + [f"- {note}" for note in report.notices] + ([""] if report.notices else [])


def comment_body(finished: Finished | None, exit_code: int, run_url: str | None = None) -> str:
    """The comment: the outcome, the pull request, the tests, the change when no pull request shows
    it, what the run used, notices and the error if there was one, and a link to the job's log."""
    lines = [MARKER, f"### local-agent (exit code {exit_code})", ""]
    if finished is None:
        lines += ["The agent wrote no report: it stopped before it could (see the job's log).", ""]
    elif finished.report is None:
        lines += ["The agent's report could not be read (see the job's log).", ""]
    else:
        lines += _report_lines(finished.report)
    if finished is not None and finished.error:
        lines = [line for line in lines if line != f"- {finished.error}"]  # said once, as the error
        lines += [f"**Error**: {finished.error}", ""]
    if run_url:
        lines += [f"[The job's log]({run_url})"]
    return "\n".join(lines).rstrip() + "\n"


def comment_target(finished: Finished | None, issue: int | None) -> int | None:
    """The pull request the run opened or updated, else the issue, else nowhere."""
    if finished is not None and finished.report is not None and finished.report.pull_request is not None:
        return finished.report.pull_request.number
    return issue


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)


def _run_url(env: Mapping[str, str]) -> str | None:
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def post(env: Mapping[str, str], number: int, body: str) -> str:
    """Post `body` on issue or pull request `number`; the comment's URL. Raises GitHubError."""
    repo = env.get("GITHUB_REPOSITORY")
    if not repo:
        raise GitHubError("GITHUB_REPOSITORY is not set: cannot tell where to comment")
    api = env.get("GITHUB_API_URL") or DEFAULT_API_URL
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as http:
        client = GitHubClient(http, env.get("GITHUB_TOKEN") or env.get("GH_TOKEN"), api)
        return client.create_comment(repo, number, body).html_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent.github.comment", description=__doc__)
    parser.add_argument("--events", type=Path, required=True, help="the JSON lines of `agent fix --json`")
    parser.add_argument("--exit-code", type=int, required=True, help="the exit code of `agent fix`")
    parser.add_argument("--issue", type=int, help="the issue to comment on when no pull request was opened")
    parser.add_argument("--no-post", action="store_true", help="write the summary and outputs only")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    events = args.events.read_text(encoding="utf-8", errors="replace") if args.events.is_file() else ""
    finished = last_finished(events)
    body = comment_body(finished, args.exit_code, _run_url(env))
    _append(env.get("GITHUB_STEP_SUMMARY"), body)
    report = finished.report if finished is not None else None
    pr = report.pull_request if report is not None else None
    outputs = {
        "status": report.status if report is not None else "error",
        "pull-request-number": str(pr.number) if pr else "",
        "pull-request-url": pr.url if pr else "",
    }
    target = comment_target(finished, args.issue)
    if target is not None and not args.no_post:
        try:
            outputs["comment-url"] = post(env, target, body)
        except GitHubError as exc:  # the report is in the step summary; the job's result stays the agent's
            print(f"::warning::local-agent: the report was not posted on #{target}: {exc}", file=sys.stderr)
    _append(env.get("GITHUB_OUTPUT"), "".join(f"{key}={value}\n" for key, value in outputs.items()))
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
