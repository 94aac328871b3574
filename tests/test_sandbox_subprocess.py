"""The subprocess sandbox: timeouts kill the whole tree, output is capped, secrets never leak."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.env import scrubbed_env
from sandbox.output import CappedOutput
from sandbox.subprocess_sandbox import SubprocessSandbox


def alive(pid: int) -> bool:
    """Running (a killed orphan may linger as a zombie until init reaps it: that is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_exit_code_output_and_pinned_cwd(tmp_path: Path) -> None:
    result = SubprocessSandbox().run("pwd; echo err >&2; exit 7", tmp_path, timeout=10)
    assert result.exit_code == 7 and not result.ok
    assert result.output.splitlines() == [str(tmp_path), "err"]


def test_argv_commands_run_without_a_shell(tmp_path: Path) -> None:
    result = SubprocessSandbox().run(["echo", "$HOME"], tmp_path, timeout=10)
    assert result.output == "$HOME\n"


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    started = time.monotonic()
    result = SubprocessSandbox().run(f"sleep 60 & echo $! > {marker}; sleep 60", tmp_path, timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert not alive(int(marker.read_text()))


def test_background_process_left_running_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    result = SubprocessSandbox().run(f"(sleep 60 & echo $! > {marker})", tmp_path, timeout=10)
    assert result.ok
    time.sleep(0.2)
    assert not alive(int(marker.read_text()))


def test_runaway_output_keeps_head_and_tail(tmp_path: Path) -> None:
    result = SubprocessSandbox(output_limit=1000).run(
        "echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST", tmp_path, timeout=30
    )
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")
    assert "bytes of output elided" in result.output and result.truncated_chars > 4_000_000
    assert len(result.output) < 1200


def test_secrets_never_reach_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("FOO_API_KEY", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a")
    monkeypatch.setenv("UNRELATED_SETTING", "u")
    result = SubprocessSandbox().run("env", tmp_path, timeout=10)
    assert "ghp_secret" not in result.output and "FOO_API_KEY" not in result.output
    assert "AWS_SECRET" not in result.output and "UNRELATED_SETTING" not in result.output
    assert "PATH=" in result.output


def test_overrides_cannot_smuggle_secrets() -> None:
    env = scrubbed_env({"PATH": "/bin", "HOME": "/h"}, overrides={"MY_TOKEN": "x", "PYTHONPATH": "/w"})
    assert "MY_TOKEN" not in env and env["PYTHONPATH"] == "/w"


def test_file_size_limit_stops_a_disk_filler(tmp_path: Path) -> None:
    from sandbox.subprocess_sandbox import Limits

    sandbox = SubprocessSandbox(limits=Limits(file_size_bytes=1 << 20))
    result = sandbox.run("head -c 10000000 /dev/zero > big", tmp_path, timeout=30)
    assert not result.ok and (tmp_path / "big").stat().st_size <= 1 << 20


def test_capped_output_counts_elided_bytes() -> None:
    capped = CappedOutput(200)
    for _ in range(100):
        capped.feed(b"0123456789")
    assert capped.total == 1000 and capped.elided == 800
    assert capped.text().startswith("0123456789") and "800 bytes" in capped.text()
