"""Real `agent fix` runs with the real 0.5B instruct model on a seeded-bug task from ../shared/minibugs.

Whether the bug gets fixed is the benchmark's business (tests/bench/bench_minibugs.py); these tests
hold the framework to its promises with a real model: the run ends cleanly with a report, every
tool call made validates against its tool's schema, and the user's tree is untouched. One run
goes the default way (the repair phase first: code blocks the model writes, applied with
write_code), one with the repair phase off, so the grammar-constrained tool calls of the loop
meet the real model too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from agent.cli.headless import report_from_stream
from agent.engines.llamacpp import BUDGET_STOPS
from agent.events import ToolStarted
from agent.models import pull
from agent.run.session import read_trajectory
from tests.bench.minibugs import MiniBug, load_tasks, materialize
from tests.repos import snapshot
from tools.registry import Toolbox, available_tools, default_tools

pytestmark = pytest.mark.model

TASK_ID = "median-even-length"


def _user_repo(tmp_path: Path) -> tuple[Path, dict]:
    """The task as a git repository with the user's uncommitted work in it, and its snapshot."""
    repo = materialize(_task(), tmp_path / "repo")
    (repo / "NOTES.md").write_text("the user's uncommitted work\n")
    return repo, snapshot(repo)


def _task() -> MiniBug:
    return next(t for t in load_tasks() if t.id == TASK_ID)


def _fix(repo: Path, *flags: str) -> dict:
    """`agent fix` on the task with the 0.5B model, as a user runs it; its report."""
    model = pull("qwen2.5-coder-0.5b", use_hub=False)
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli", "fix", _task().issue, "--model", str(model), "--json", *flags],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "AGENT_MODEL_DIR": str(model.parent)},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = report_from_stream(result.stdout)
    assert report["status"] in ("resolved", "not_resolved", "no_change")
    assert report["stop_reason"] and report["steps"] >= 1
    return report


def test_agent_fix_with_the_small_instruct_model_drafts_fixes_first(tmp_path: Path) -> None:
    repo, before = _user_repo(tmp_path)
    report = _fix(repo, "--max-minutes", "4", "--ctx", "8192")
    repair = report["repair"]
    assert repair is not None and repair["replies"] >= 1
    if repair["resolved"]:  # a draft that passed is the run's result
        assert report["status"] == "resolved" and report["tests"]["ok"]
    schemas = {spec.name: spec.parameters for spec in Toolbox(available_tools()).specs()}
    events = read_trajectory(Path(report["trajectory_path"]))
    writes = [e.call for e in events if isinstance(e, ToolStarted) and e.call.name == "write_code"]
    assert writes, "no code block of the model's was tried"
    for call in writes:
        assert call.id.startswith("repair_")
        jsonschema.validate(call.arguments, schemas["write_code"])
    assert snapshot(repo) == before


def test_agent_fix_with_the_small_instruct_model_and_tool_calls(tmp_path: Path) -> None:
    repo, before = _user_repo(tmp_path)
    report = _fix(repo, "--max-steps", "6", "--ctx", "8192", "--repair", "off")
    assert report["repair"] is None
    assert report["usage"]["cached_tokens"] > 0  # the KV cache was reused across turns

    schemas = {spec.name: spec.parameters for spec in Toolbox(default_tools()).specs()}
    events = read_trajectory(Path(report["trajectory_path"]))
    calls = [e.call for e in events if isinstance(e, ToolStarted)]
    model_calls = [c for c in calls if not c.id.startswith(("verify_", "final_verify"))]
    assert model_calls, "the model made no tool call"
    budget_stops = [c for c in model_calls if c.parse_error and c.parse_error.startswith(BUDGET_STOPS)]
    assert len(budget_stops) < len(model_calls), model_calls  # rambling in a string is reported,
    for call in model_calls:  # never broken: every other call is well formed
        if call in budget_stops:
            assert call.arguments == {}, call  # and nothing of a cut-off call is run
            continue
        assert call.parse_error is None, call
        jsonschema.validate(call.arguments, schemas[call.name])
    # the plan is a few lines; before each call the model gets one line that says something (a
    # heading before it aside): it restated the whole plan
    lines = Path(report["trajectory_path"]).read_text().splitlines()
    texts = [e["text"] for e in map(json.loads, lines) if e.get("kind") == "model_text"]
    assert len(texts) >= 2 and all(text.count("\n") <= 2 for text in texts[1:]), texts
    assert snapshot(repo) == before
