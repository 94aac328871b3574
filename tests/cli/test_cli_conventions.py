"""The `agent` command's conventions, through the real CLI in subprocesses: `--version`, help for every
flag, a closed stdout (`| head`), `--sandbox-read`, `mcp add` of a taken name, `models rm`, and
`agent context` keeping llama.cpp's log off stderr."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from agent.cli.main import _build_parser
from tests.commands import AGENT
from tests.gguf_synth import PUBLISHED, glm5_file
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git, median_repo, snapshot


def own_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user config, model folder and HF cache of the test's own (and no AGENT_* of the caller's)."""
    import os

    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("AGENT_")}
    return {
        **clean,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "AGENT_MODEL_DIR": str(tmp_path / "models"),
        "HF_HOME": str(tmp_path / "hf"),
        **extra,
    }


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_version_is_the_installed_package_version(tmp_path: Path) -> None:
    result = run(["--version"], tmp_path, own_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"agent (local-agent) {metadata.version('local-agent')}"


def _actions(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            described = {choice.dest for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", argparse.Action([], name, help=name if name in described else None)
                yield from _actions(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_flag_and_subcommand_of_the_real_parser_has_help() -> None:
    found = list(_actions(_build_parser(), "agent"))
    assert len(found) > 100  # the whole tree was walked
    missing = [f"{path}: {action.option_strings or action.dest}" for path, action in found if not action.help]
    assert missing == []


def _with_closed_stdout(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the command with its stdout a pipe whose reader is gone before it writes a byte."""
    proc = subprocess.Popen(
        [*AGENT, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=600), err


def test_a_closed_stdout_ends_listing_commands_quietly_with_141(tmp_path: Path) -> None:
    env = own_env(tmp_path)
    model = glm5_file(tmp_path / "GLM-5.gguf", PUBLISHED["Q8_0"][0])
    for args in (["models", "list", "--json"], ["models", "fit", str(model), "--json"], ["tool", "--list"]):
        code, err = _with_closed_stdout(args, tmp_path, env)
        assert (code, err) == (141, ""), args


def test_fix_json_into_a_closed_pipe_stops_the_run_and_cleans_up(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    args = ["fix", "median of an even-length list is wrong", "--script", str(MEDIAN_SCRIPT), "--json"]
    code, err = _with_closed_stdout(args, repo, own_env(tmp_path))
    assert code == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
    assert snapshot(repo) == before
    assert git(repo, "branch", "--list", "agent/*") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_fix_json_piped_into_head_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    command = " ".join(
        [*AGENT, "fix", "'median is wrong'", "--script", str(MEDIAN_SCRIPT), "--json", "| head -1"]
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=repo,
        env=own_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 141, result.stderr
    assert len(result.stdout.splitlines()) == 1 and '"kind":"run_started"' in result.stdout
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_sandbox_read_shows_a_hidden_path_read_only(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("visible with --sandbox-read\n")
    env = own_env(tmp_path)
    hidden = run(["sandbox", "--", "cat", str(outside / "notes.txt")], repo, env)
    assert "-- exit status: 0" not in hidden.stdout and "visible" not in hidden.stdout
    shown = run(
        ["sandbox", "--sandbox-read", str(outside), "--", "cat", str(outside / "notes.txt")], repo, env
    )
    assert "visible with --sandbox-read" in shown.stdout and "-- exit status: 0" in shown.stdout, shown.stderr
    write = f"echo changed > {outside / 'notes.txt'}"
    refused = run(["sandbox", "--sandbox-read", str(outside), "--", "bash", "-c", write], repo, env)
    assert "-- exit status: 0" not in refused.stdout
    assert (outside / "notes.txt").read_text() == "visible with --sandbox-read\n"
    args = '{"command": "cat %s"}' % (outside / "notes.txt")
    tool = run(["tool", "shell", "--args", args, "--sandbox-read", str(outside)], repo, env)
    assert tool.returncode == 0 and "visible with --sandbox-read" in tool.stdout, tool.stdout + tool.stderr


def test_mcp_add_refuses_a_taken_name_unless_forced(tmp_path: Path) -> None:
    env = own_env(tmp_path)
    config = tmp_path / "xdg" / "local-agent" / "config.toml"
    assert run(["mcp", "add", "docs", "--", "first-server"], tmp_path, env).returncode == 0
    again = run(["mcp", "add", "docs", "--", "second-server"], tmp_path, env)
    assert again.returncode == 2 and "already" in again.stderr and "--force" in again.stderr
    assert "first-server" in config.read_text() and "second-server" not in config.read_text()
    forced = run(["mcp", "add", "docs", "--force", "--", "second-server"], tmp_path, env)
    assert forced.returncode == 0, forced.stderr
    assert "second-server" in config.read_text() and "first-server" not in config.read_text()


def _downloaded(models: Path) -> dict[str, Path]:
    catalogue = models / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    hub = models / "hub" / "org--big"
    hub.mkdir(parents=True)
    files = {"catalogue": catalogue, **{f"shard{i}": hub / f"big-0000{i}-of-00002.gguf" for i in (1, 2)}}
    for path in files.values():
        path.write_bytes(b"GGUF" + bytes(64))
        path.with_name(path.name + ".sha256").write_text(f"{'0' * 64}  {path.name}\n")
    return files


def test_models_rm_removes_what_pull_put_in_the_model_folder(tmp_path: Path) -> None:
    env = own_env(tmp_path)
    models = tmp_path / "models"
    files = _downloaded(models)
    unknown = run(["models", "rm", "qwen2.5-coder-1.5b"], tmp_path, env)
    assert unknown.returncode == 2 and "not downloaded" in unknown.stderr
    unasked = run(["models", "rm", "qwen2.5-coder-0.5b"], tmp_path, env)
    assert unasked.returncode == 2 and "--yes" in unasked.stderr and files["catalogue"].is_file()
    removed = run(["models", "rm", "qwen2.5-coder-0.5b", "--yes"], tmp_path, env)
    assert removed.returncode == 0, removed.stderr
    assert not files["catalogue"].exists() and not (models / f"{files['catalogue'].name}.sha256").exists()
    by_file = run(["models", "rm", "big-00001-of-00002.gguf", "-y"], tmp_path, env)
    assert by_file.returncode == 0 and "4 files" in by_file.stdout, by_file.stderr
    assert not (models / "hub" / "org--big").exists()  # both shards, their records, the empty folder
    assert run(["models", "rm", "org/big", "-y"], tmp_path, env).returncode == 2


def test_models_rm_of_a_hub_repository_removes_its_folder(tmp_path: Path) -> None:
    env = own_env(tmp_path)
    files = _downloaded(tmp_path / "models")
    removed = run(["models", "rm", "org/big", "--yes"], tmp_path, env)
    assert removed.returncode == 0, removed.stderr
    assert not files["shard1"].parent.exists() and files["catalogue"].is_file()


def test_context_prints_its_summary_and_no_llama_cpp_log(tmp_path: Path, gemma_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = run(
        ["context", "median is wrong", "--json"], repo, own_env(tmp_path, AGENT_MODEL=str(gemma_path))
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        line for line in result.stderr.splitlines() if "repository context" in line
    ]
    assert len(result.stderr.splitlines()) == 1 and gemma_path.name in result.stderr
