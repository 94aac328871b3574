"""The GitHub Actions example: valid workflow YAML, the documented triggers and permissions, and
every `agent` command line in it accepted by the real argument parser."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from agent.cli.main import _build_parser
from tests.paths import ROOT

WORKFLOW = ROOT / "examples" / "github-actions" / "agent-fix.yml"


def load() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_triggers_permissions_and_guard() -> None:
    workflow = load()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers == {"issues": {"types": ["labeled"]}, "issue_comment": {"types": ["created"]}}
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "read"}
    job = workflow["jobs"]["fix"]
    assert "self-hosted" in job["runs-on"]
    guard = job["if"]
    for part in ("github.event.label.name == 'agent'", "startsWith(github.event.comment.body, '/agent fix')"):
        assert part in guard
    assert "author_association" in guard and "github.event.issue.body" not in WORKFLOW.read_text()


def agent_commands() -> list[str]:
    commands = []
    for step in load()["jobs"]["fix"]["steps"]:
        for line in str(step.get("run", "")).splitlines():
            if line.strip().startswith("agent "):
                commands.append(line.strip())
    return commands


def test_agent_command_lines_parse() -> None:
    commands = agent_commands()
    assert commands, "the workflow runs no agent command"
    parser = _build_parser()
    for command in commands:
        command = command.split(">", 1)[0]
        command = command.replace('"$ISSUE"', "12").replace(
            "$AGENT_ENGINE_FLAGS", "--base-url http://h:8000/v1"
        )
        assert not re.search(r"\$\w", command), command
        args = parser.parse_args(shlex.split(command)[1:])
        assert args.command == "fix" and args.github_issue == 12
        assert args.open_pr and args.json and args.headless
