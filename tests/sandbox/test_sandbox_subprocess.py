"""The subprocess sandbox: timeouts kill the whole tree, output is capped, secrets never leak."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.env import scrubbed_env
from sandbox.output import CappedOutput, cap_text
from sandbox.subprocess_sandbox import Limits, SubprocessSandbox


def alive(pid: int) -> bool:
    """Running (a killed orphan may linger as a zombie until init reaps it: that is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_exit_code_output_and_pinned_cwd(tmp_path: Path) -> None:
    sandbox = SubprocessSandbox()
    result = sandbox.run("pwd; echo err >&2; exit 7", tmp_path, timeout=10)
    assert sandbox.mode == "subprocess"
    assert result.exit_code == 7 and not result.ok and not result.timed_out
    assert result.output.splitlines() == [str(tmp_path), "err"]
    assert result.command == "pwd; echo err >&2; exit 7" and result.seconds < 5


def test_argv_commands_run_without_a_shell_and_stdin_is_empty(tmp_path: Path) -> None:
    sandbox = SubprocessSandbox()
    assert sandbox.run(["echo", "$HOME"], tmp_path, timeout=10).output == "$HOME\n"
    assert sandbox.run(["cat"], tmp_path, timeout=10).output == ""
    missing = sandbox.run(["no-such-program-xyz"], tmp_path, timeout=10)
    assert missing.exit_code == 127 and "no-such-program-xyz" in missing.output


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    started = time.monotonic()
    result = SubprocessSandbox().run(
        f"echo started; sleep 60 & echo $! > {marker}; sleep 60", tmp_path, timeout=1
    )
    assert result.timed_out and result.exit_code == 124 and not result.ok
    assert result.output.startswith("started")
    assert time.monotonic() - started < 5
    time.sleep(0.1)
    assert not alive(int(marker.read_text()))


def test_a_tree_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    command = f"trap '' TERM; (trap '' TERM; sleep 60) & echo $! > {marker}; sleep 60"
    result = SubprocessSandbox().run(command, tmp_path, timeout=0.5)
    assert result.timed_out and result.seconds < 3
    time.sleep(0.1)
    assert not alive(int(marker.read_text()))


def test_background_process_left_running_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    result = SubprocessSandbox().run(f"(sleep 60 & echo $! > {marker})", tmp_path, timeout=10)
    assert result.ok and not result.timed_out
    time.sleep(0.1)
    assert not alive(int(marker.read_text()))


def test_a_command_that_closes_its_output_is_still_waited_for(tmp_path: Path) -> None:
    result = SubprocessSandbox().run(
        "echo before; exec >/dev/null 2>&1; sleep 0.5; touch done; exit 3", tmp_path, timeout=10
    )
    assert result.exit_code == 3 and result.output == "before\n"
    assert (tmp_path / "done").exists()


def test_death_by_signal_is_shell_style(tmp_path: Path) -> None:
    result = SubprocessSandbox().run(["bash", "-c", "kill -TERM $$"], tmp_path, timeout=10)
    assert result.exit_code == 143 and "[killed by SIGTERM]" in result.output


def test_runaway_output_keeps_head_and_tail(tmp_path: Path) -> None:
    result = SubprocessSandbox(output_limit=1000).run(
        "echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST", tmp_path, timeout=30
    )
    assert result.output.startswith("FIRST\nxxx") and result.output.endswith("xxx\nLAST\n")
    assert result.truncated_chars == 5_000_000 + len("FIRST\n\nLAST\n") - 1000
    assert f"... [{result.truncated_chars} characters elided] ..." in result.output
    assert len(result.output) < 1100


def test_capping_counts_characters_not_bytes() -> None:
    capped = CappedOutput(200)
    data = ("é" * 1000).encode()
    for i in range(0, len(data), 7):  # chunk boundaries split the 2-byte characters
        capped.feed(data[i : i + 7])
    capped.close()
    assert capped.total == 1000 and capped.elided == 800
    assert capped.text() == "é" * 100 + "\n... [800 characters elided] ...\n" + "é" * 100
    assert (
        cap_text("a" * 150 + "b" * 150, 200) == "a" * 100 + "\n... [100 characters elided] ...\n" + "b" * 100
    )
    assert cap_text("short", 200) == "short"


def test_secrets_never_reach_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "FOO_API_KEY", "AWS_SECRET_ACCESS_KEY", "PYTHON_KEYRING_PASSWORD"):
        monkeypatch.setenv(name, "hush")
    monkeypatch.setenv("UNRELATED_SETTING", "u")
    monkeypatch.setenv("PYTHONSTARTUP", "/tmp/startup.py")
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    monkeypatch.setenv("LC_TIME", "C")
    result = SubprocessSandbox().run("env", tmp_path, timeout=10)
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert "hush" not in result.output
    assert not names & {"GITHUB_TOKEN", "FOO_API_KEY", "AWS_SECRET_ACCESS_KEY", "UNRELATED_SETTING"}
    assert "PYTHONSTARTUP" not in names
    assert {"PATH", "PYTHONHASHSEED", "LC_TIME"} <= names


def test_extra_allowed_and_overrides_cannot_smuggle_secrets(tmp_path: Path) -> None:
    source = {"PATH": "/bin", "HOME": "/h", "MY_TOKEN": "t", "PROJECT_MODE": "dev", "DB_PASSWORD": "p"}
    env = scrubbed_env(
        source,
        extra_allowed=["PROJECT_MODE", "MY_TOKEN", "DB_PASSWORD"],
        overrides={"DEPLOY_KEY": "x", "PYTHONPATH": "/w"},
    )
    assert env["PROJECT_MODE"] == "dev" and env["PYTHONPATH"] == "/w" and env["HOME"] == "/h"
    assert not {"MY_TOKEN", "DB_PASSWORD", "DEPLOY_KEY"} & set(env)
    sandbox = SubprocessSandbox(extra_env_allow=["PATH"])
    assert sandbox.run("echo $PYTHONPATH", tmp_path, 10, env={"PYTHONPATH": "/w"}).output == "/w\n"


def test_file_size_limit_stops_a_disk_filler(tmp_path: Path) -> None:
    sandbox = SubprocessSandbox(limits=Limits(file_size_bytes=1 << 20))
    result = sandbox.run("head -c 10000000 /dev/zero > big", tmp_path, timeout=30)
    assert result.exit_code == 128 + 25 and "File size limit exceeded" in result.output  # SIGXFSZ
    assert (tmp_path / "big").stat().st_size <= 1 << 20


def test_cpu_limit_stops_a_busy_loop(tmp_path: Path) -> None:
    sandbox = SubprocessSandbox(limits=Limits(cpu_seconds=1))
    result = sandbox.run("while :; do :; done", tmp_path, timeout=20)
    assert not result.timed_out and "SIGXCPU" in result.output
