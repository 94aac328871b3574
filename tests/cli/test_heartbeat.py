"""The console's heartbeat: while the model works, a line at least every 5 s saying what it does,
also when stderr is a pipe (a CI log): one plain line each time, never a carriage return."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from agent.cli.console import ConsoleOut
from agent.cli.heartbeat import Heartbeat, Phase, describe
from agent.events import (
    RUN_EVENT_ADAPTER,
    IndexProgress,
    ModelDelta,
    ModelText,
    PrefillProgress,
    RunFinished,
    RunStarted,
    StepStarted,
    ToolStarted,
)
from agent.messages import ToolCall
from tests.commands import run_agent
from tests.paths import MEDIAN_SCRIPT
from tests.repos import median_repo

BEAT = re.compile(r"^  \.\. \[(\d+):(\d\d)\] (\w+)(.*)$")


def slow_script(tmp_path: Path) -> Path:
    """The median fix, its first step's reply slow: an 11 s prefill, then text at 1.5 tokens/s."""
    turns = json.loads(MEDIAN_SCRIPT.read_text())
    turns[1].update(
        prefill_seconds=11, tokens_per_second=1.5, text="Read the code before changing anything in it."
    )
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(turns))
    return path


def test_a_slow_reply_shows_heartbeat_lines_on_a_pipe(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    task = "median of an even-length list is wrong"
    result = run_agent(["fix", task, "--script", str(slow_script(tmp_path)), "--json"], cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    beats = [m for line in result.stderr.splitlines() if (m := BEAT.match(line))]
    prefill = [m.group(4) for m in beats if m.group(3) == "prefill"]
    assert len(prefill) >= 2, result.stderr  # 11 s of prefill: a line every 5 s
    counts = [int(re.match(r" (\d+)/(\d+) tokens, [\d.]+ tok/s, \d+s$", p).group(1)) for p in prefill]  # type: ignore[union-attr]
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0
    assert any(m.group(3) == "decode" and "tok/s" in m.group(4) for m in beats), result.stderr
    clocks = [int(m.group(1)) * 60 + int(m.group(2)) for m in beats]
    assert clocks == sorted(clocks)
    lines = result.stdout.splitlines()  # the --json stream is untouched by it
    assert all(json.loads(line)["kind"] != "prefill_progress" for line in lines)
    assert json.loads(lines[-1])["kind"] == "run_finished"


def test_a_quick_run_has_no_heartbeat(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = run_agent(
        ["fix", "median of an even-length list is wrong", "--script", str(MEDIAN_SCRIPT)], repo
    )
    assert result.returncode == 0, result.stderr
    assert not any(BEAT.match(line) for line in result.stderr.splitlines())


def test_the_phase_follows_the_run_events() -> None:
    out = io.StringIO()
    beat = Heartbeat(ConsoleOut(out), interval=0.2)
    assert beat.line() is None  # nothing before the run starts
    beat(
        RUN_EVENT_ADAPTER.validate_python(
            {
                "kind": "run_started",
                "session_id": "s",
                "task": "t",
                "engine": "e",
                "model": "m",
                "branch": "b",
                "worktree": "w",
                "sandbox": "x",
            }
        )
    )
    assert "working" in (beat.line() or "")
    beat(StepStarted(step=1))
    beat(PrefillProgress(done=512, total=2000))
    assert " prefill 512/2000 tokens, " in (beat.line() or "")
    for _ in range(3):
        beat(ModelDelta(text="word ", thinking=True))
    assert " decode 3 tokens, " in (beat.line() or "")
    beat(ModelText(text="done"))
    beat(ToolStarted(call=ToolCall(id="c", name="run_tests", arguments={})))
    assert " tests " in (beat.line() or "")
    with beat.running():
        time.sleep(0.7)
    written = out.getvalue().splitlines()
    assert written and all(BEAT.match(line) and " tests " in line for line in written)
    beat(RunFinished(report={}))
    assert beat.line() is None


def test_describe_says_phase_tokens_rate_and_time() -> None:
    text = describe(Phase("prefill", started=100.0, tokens=1000, total=3000), now=110.0, run_started=38.0)
    assert text == "[1:12] prefill 1000/3000 tokens, 100.0 tok/s, 10s"
    assert describe(Phase("tests", started=0.0), now=3725.0, run_started=0.0) == "[1:02:05] tests 3725s"


def test_indexing_is_a_phase_with_bytes_done_of_total() -> None:
    now = [100.0]
    beat = Heartbeat(ConsoleOut(io.StringIO()), clock=lambda: now[0])
    beat(RunStarted(session_id="s", task="t", engine="e", model="m", branch="b", worktree="w", sandbox="x"))
    beat(IndexProgress(done=0, total=180_000))
    now[0] = 103.0
    beat(IndexProgress(done=52_000, total=180_000))
    assert beat.line() == "[0:03] indexing 52000/180000 bytes, 3s"  # the phase started with the first
    beat(IndexProgress(done=180_000, total=180_000))
    assert " working " in (beat.line() or "")
