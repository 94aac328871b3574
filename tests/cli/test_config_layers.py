"""Where a setting comes from, through the real CLI: flags > AGENT_* variables > `--config FILE` >
the repository's `.agent.toml` (what needs trust only once trusted) > the user file > defaults.

`agent sandbox -- true` prints the policy in effect, so each layer is seen doing its part."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agent.cli.headless import report_from_stream
from tests.cli.test_cli_conventions import own_env, run
from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo

TASK = "median of an even-length list is wrong"


def policy(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("-- sandbox:"))
    return line.split("(")[1].split(",")[0]


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    user = tmp_path / "xdg" / "local-agent" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[sandbox]\npolicy = "network"\n')
    mine = tmp_path / "mine.toml"
    mine.write_text('[sandbox]\npolicy = "workspace"\n')
    env = own_env(tmp_path)
    assert policy(run(["sandbox", "--", "true"], repo, env)) == "network"  # the user file
    (repo / ".agent.toml").write_text('[sandbox]\npolicy = "read-only"\n')  # stricter: applies untrusted
    assert policy(run(["sandbox", "--", "true"], repo, env)) == "read-only"
    assert policy(run(["--config", str(mine), "sandbox", "--", "true"], repo, env)) == "workspace"
    variable = {**env, "AGENT_SANDBOX__POLICY": "network"}
    assert policy(run(["--config", str(mine), "sandbox", "--", "true"], repo, variable)) == "network"
    flagged = run(["--config", str(mine), "sandbox", "--policy", "read-only", "--", "true"], repo, variable)
    assert policy(flagged) == "read-only"


def test_an_untrusted_project_value_is_ignored_and_the_environment_is_trusted(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    (repo / ".agent.toml").write_text('[sandbox]\npolicy = "network"\n')  # wider: waits for trust
    env = own_env(tmp_path)
    untrusted = run(["sandbox", "--", "true"], repo, env)
    assert policy(untrusted) == "workspace" and "ignored sandbox.policy" in untrusted.stderr
    from_env = run(["sandbox", "--", "true"], repo, {**env, "AGENT_SANDBOX__POLICY": "network"})
    assert policy(from_env) == "network"
    mine = tmp_path / "mine.toml"
    mine.write_text('[sandbox]\npolicy = "network"\n')
    assert policy(run(["--config", str(mine), "sandbox", "--", "true"], repo, env)) == "network"


def test_a_json_list_from_the_environment_reaches_the_sandbox(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("read through AGENT_SANDBOX__READ_PATHS\n")
    env = own_env(tmp_path, AGENT_SANDBOX__READ_PATHS=json.dumps([str(outside)]))
    result = run(["sandbox", "--", "cat", str(outside / "notes.txt")], repo, env)
    assert "read through AGENT_SANDBOX__READ_PATHS" in result.stdout, result.stderr


def test_max_steps_from_the_environment_bounds_a_run_and_the_flag_beats_it(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    env = own_env(tmp_path, AGENT_MAX_STEPS="1", AGENT_REPAIR="off", AGENT_REPRODUCE="off")
    bounded = run(["fix", TASK, "--script", str(MEDIAN_SCRIPT), "--json"], repo, env)
    report = report_from_stream(bounded.stdout)
    assert report["status"] != "resolved" and report["steps"] == 1, bounded.stderr
    flagged = run(["fix", TASK, "--script", str(MEDIAN_SCRIPT), "--json", "--max-steps", "20"], repo, env)
    assert report_from_stream(flagged.stdout)["status"] == "resolved", flagged.stderr


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    for name, value in (
        ("AGENT_MAX_STEPS", "many"),
        ("AGENT_SANDBOX__POLICY", "open"),
        ("AGENT_MODEL_DIRS", "[not json"),
        ("AGENT_SANDBOX__LIMITS__CPU_SECONDS", "-5"),
    ):
        result = run(["sandbox", "--", "true"], repo, own_env(tmp_path, **{name: value}))
        assert result.returncode == 2 and name in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr
    streamed = run(
        ["fix", TASK, "--script", str(MEDIAN_SCRIPT), "--json"], repo, own_env(tmp_path, AGENT_REPAIR="x")
    )
    last = json.loads(streamed.stdout.splitlines()[-1])
    assert streamed.returncode == 2 and last["kind"] == "run_finished" and last["exit_code"] == 2
    assert "AGENT_REPAIR" in last["error"]


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run(
        ["--config", str(tmp_path / "nope.toml"), "sandbox", "--", "true"], tmp_path, own_env(tmp_path)
    )
    assert result.returncode == 2 and "nope.toml" in result.stderr and "no such file" in result.stderr
