"""The headless contract: `agent fix --json` writes one event per line, each valid against the
checked-in docs/events.schema.json (generated from the pydantic models: a test fails when they
differ), versioned by `schema_version`, and the last line is always `run_finished` with the exit
code, whatever ended the run (tests/run/test_run_ends_with_report.py has more of those cases)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from agent.cli.events import schema_text
from agent.events import RUN_EVENT_ADAPTER, SCHEMA_VERSION, RunFinished, RunStarted
from agent.run.exitcodes import EXIT_ENGINE, EXIT_USAGE
from tests.commands import run_agent
from tests.paths import MEDIAN_SCRIPT, ROOT
from tests.repos import median_repo

SCHEMA_FILE = ROOT / "docs" / "events.schema.json"
TASK = "median of an even-length list is wrong"


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_the_checked_in_schema_is_the_models_schema() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "the event models changed: run `agent events --schema > docs/events.schema.json`, "
        "and raise agent.events.SCHEMA_VERSION if a field was removed, renamed or changed its meaning"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_text()))
    assert json.loads(schema_text())["x-schema-version"] == SCHEMA_VERSION


def test_agent_events_prints_the_schema(tmp_path: Path) -> None:
    result = run_agent(["events", "--schema"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == SCHEMA_FILE.read_text(encoding="utf-8")


def test_every_line_of_a_run_fits_the_schema_and_is_versioned(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = run_agent(["fix", TASK, "--script", str(MEDIAN_SCRIPT), "--json"], cwd=repo)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    check = validator()
    for line in lines:
        check.validate(line)
    kinds = [line["kind"] for line in lines]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and kinds.count("run_finished") == 1
    assert {"plan", "step", "tool_started", "tool_finished", "usage"} <= set(kinds)
    assert lines[0]["schema_version"] == lines[-1]["schema_version"] == SCHEMA_VERSION


def test_events_without_a_version_still_load() -> None:
    """Trajectories written before the version existed read as version 1."""
    old = {"kind": "run_finished", "report": {"status": "resolved"}, "exit_code": 0}
    event = RUN_EVENT_ADAPTER.validate_python(old)
    assert isinstance(event, RunFinished) and event.schema_version == 1
    started = RunStarted(
        session_id="s", task="t", engine="e", model="m", branch="b", worktree="w", sandbox="x"
    )
    assert started.schema_version == SCHEMA_VERSION


def _model_file(tmp_path: Path, name: str) -> list[str]:
    if name == "garbage":
        path = tmp_path / "garbage.gguf"
        path.write_bytes(b"GGUF\x03\x00\x00\x00 not a model")
        return ["--model", str(path)]
    return ["--model", str(tmp_path / "no-such-model.gguf")]


@pytest.mark.parametrize(
    ("case", "code", "says"),
    [
        ("missing_model", EXIT_USAGE, "neither a GGUF file nor an installed catalogue model"),
        ("garbage", EXIT_ENGINE, "not a GGUF file"),
        ("bad_choice", EXIT_USAGE, "invalid choice: 'sometimes'"),
        ("bad_config", EXIT_USAGE, "cannot read config file"),
        ("bad_number", EXIT_USAGE, "max_minutes"),
    ],
)
def test_a_run_that_never_starts_ends_with_run_finished(
    tmp_path: Path, case: str, code: int, says: str
) -> None:
    repo = median_repo(tmp_path / "r")
    extra = {
        "missing_model": _model_file(tmp_path, "missing"),
        "garbage": _model_file(tmp_path, "garbage"),
        "bad_choice": ["--script", str(MEDIAN_SCRIPT), "--repair", "sometimes"],
        "bad_config": ["--script", str(MEDIAN_SCRIPT)],
        "bad_number": ["--script", str(MEDIAN_SCRIPT), "--max-minutes", "-1"],
    }[case]
    if case == "bad_config":
        (repo / ".agent.toml").write_text("max_steps = [\n")
    result = run_agent(["fix", TASK, "--json", *extra], cwd=repo, env={"CI": ""})
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # nothing started: the one line is the last one
    validator().validate(json.loads(lines[0]))
    last = RUN_EVENT_ADAPTER.validate_json(lines[0])
    assert isinstance(last, RunFinished) and last.exit_code == code and says in (last.error or "")
    assert last.report["status"] == "error" and last.schema_version == SCHEMA_VERSION
    branches = subprocess.run(["git", "branch"], cwd=repo, capture_output=True, text=True, check=True)
    assert "agent/" not in branches.stdout  # no run, no branch
