"""The TUI in a real terminal: tmux runs `agent`, send-keys types, capture-pane reads the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo

SCRIPT = MEDIAN_SCRIPT
ESC_GAP_SECONDS = 0.3


class Tmux:
    """One private tmux server (its own socket), one window running `command`."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=30
        )
        return result.stdout

    def start(self, command: str, cwd: Path, size: tuple[int, int] = (100, 30)) -> None:
        shell = f"{command}; echo EXITED $?; sleep 60"
        self("new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-c", str(cwd), shell)

    def screen(self) -> str:
        return self("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        """One key at a time: an Escape followed at once by a key would read as Alt+key."""
        for key in keys:
            self("send-keys", key)
            time.sleep(ESC_GAP_SECONDS)

    def type(self, text: str) -> None:
        self("send-keys", "-l", text)

    def wait_for(self, seen: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if seen(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"screen after {timeout}s:\n{screen}")
            time.sleep(0.2)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is not installed: apt-get install -y tmux (.ci/run does)")
    server = Tmux(f"agent-test-{os.getpid()}-{time.monotonic_ns()}")
    yield server
    subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, check=False)


def agent(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "agent.cli", *args])


def test_fix_with_tui_in_a_terminal_runs_the_task_and_accepts_it(tmp_path: Path, tmux: Tmux) -> None:
    repo = median_repo(tmp_path / "repo")
    tmux.start(agent("fix", "median of an even list is wrong", "--tui", "--script", str(SCRIPT)), repo)
    done = tmux.wait_for(lambda s: "done: resolved" in s, 60)
    assert "finish" in done and "median averages the middle pair" in done
    tmux.keys("C-t")
    tmux.wait_for(lambda s: "Accept (a)" in s and "stats.py" in s, 10)
    tmux.keys("a")
    tmux.wait_for(lambda s: "applied to your working tree" in s, 10)
    tmux.keys("C-t", "Escape", "q")  # back to the conversation, leave the prompt, quit
    tmux.wait_for(lambda s: "EXITED 0" in s, 15)
    assert "(s[mid - 1] + s[mid]) / 2" in (repo / "stats.py").read_text()


def test_bare_agent_in_a_terminal_opens_the_tui(tmp_path: Path, tmux: Tmux) -> None:
    repo = median_repo(tmp_path / "repo")
    (repo / ".agent.toml").write_text('model = "/nonexistent/model.gguf"\n')  # untrusted: ignored
    tmux.start(f"AGENT_MODEL=/nonexistent/env-model.gguf {agent()}", repo)
    screen = tmux.wait_for(lambda s: "engine did not load" in s, 30)
    assert "Describe the bug" in screen and "neither a GGUF file" in screen  # the app, not the help
    assert "ignored model from" in screen and "env-model.gguf" in screen  # the notice, before the engine
    tmux.keys("Escape", "q")
    tmux.wait_for(lambda s: "EXITED 0" in s, 15)


@pytest.mark.model
def test_tui_streams_the_real_small_model(tmp_path: Path, tmux: Tmux, gemma_path: Path) -> None:
    repo = median_repo(tmp_path / "repo")
    # a token budget that ends the run after the streamed plan: the smoke test stays short (no
    # baseline test run: its output in the first prompt would spend the budget before the plan)
    (repo / ".agent.toml").write_text("max_tokens = 900\nn_ctx = 4096\ntest_after_edit = false\n")
    # one llama.cpp thread: its spinning thread barrier slows to a crawl on an oversubscribed machine
    tmux.start(agent("tui", "--model", str(gemma_path), "--threads", "1"), repo, size=(120, 36))
    tmux.wait_for(lambda s: "llama.cpp" in s and "gemma" in s, 120)  # loaded: the status bar says so
    tmux.type("median of an even list is wrong")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "❯ median of an even list is wrong" in s, 60)  # the task, as sent
    # the live decode rate (`~`) while running (every part waited for together: a capture taken
    # mid-redraw holds only part of the screen)
    tmux.wait_for(lambda s: "tok/s" in s and "~" in s and "running" in s, 120)
    done = tmux.wait_for(lambda s: "done:" in s, 300)
    assert "max_tokens" in done and "/4096" in done and "prefill" in done and "cached" in done
    tmux.keys("Escape", "q")
    tmux.wait_for(lambda s: "EXITED 0" in s, 60)
