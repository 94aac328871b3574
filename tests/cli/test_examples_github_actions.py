"""The GitHub Actions example: valid workflow YAML with the documented trigger, permissions and
guard, no issue text spliced into it, and every flag the action passes to `agent fix` accepted by
the real argument parser (tests/github/test_action.py runs the action's steps themselves)."""

from __future__ import annotations

import argparse
import re
from typing import Any

import yaml

from agent.cli.main import _build_parser
from tests.paths import ROOT

WORKFLOW = ROOT / "examples" / "github-actions" / "agent-fix.yml"
ACTION = ROOT / "action.yml"


def load(path: Any) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_triggers_permissions_and_guard() -> None:
    workflow = load(WORKFLOW)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers == {"issues": {"types": ["labeled"]}}
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write"}
    job = workflow["jobs"]["fix"]
    assert job["if"] == "github.event.label.name == 'agent'"  # labelling needs triage rights
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False  # the token never lands in .git/config
    text = WORKFLOW.read_text()
    assert "github.event.issue.body" not in text and "github.event.issue.title" not in text


def fix_step_flags() -> set[str]:
    steps = load(ACTION)["runs"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "fix")
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", script))


def test_every_flag_the_action_passes_is_an_agent_fix_flag() -> None:
    flags = fix_step_flags()
    assert {"--headless", "--json", "--github-issue", "--issue-file", "--open-pr"} <= flags
    parser = _build_parser()
    fix = parser.parse_args(["fix", "x"])
    assert fix.command == "fix"
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    known = set(subparsers.choices["fix"]._option_string_actions)
    assert flags <= known, flags - known
