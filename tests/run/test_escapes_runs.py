"""Host-side escape cases for whole runs: the TUI's commands, `approval = "always"` in a headless
run, and `agent eval` scoring a change whose tests misbehave (tests/escape_support.py)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.headless import report_from_stream
from agent.cli.terminal_approval import TerminalApprover
from agent.engines.scripted import ScriptedTurn
from sandbox.approval import ApprovalRequest
from tests.escape_support import SECRET, SECRET_ENV, assert_contained, loopback_service, markers, probe_script
from tests.paths import MEDIAN_SCRIPT
from tests.repos import BUGGY_MEDIAN, MEDIAN_TESTS, git, make_repo, median_repo
from tests.tui_support import make_app, scripted, wait_for

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shell_turn(command: str) -> dict[str, object]:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


def with_shell(command: str) -> list[dict[str, object]]:
    """The median fix script with one shell call after reading the code."""
    turns: list[dict[str, object]] = json.loads(SCRIPT.read_text())
    return [*turns[:2], shell_turn(command), *turns[2:]]


async def test_the_tuis_commands_run_in_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = median_repo(tmp_path / "user")
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)  # the TUI process has the secrets; its commands must not
    with markers() as found, loopback_service() as service:
        turns = [
            ScriptedTurn.model_validate(t) for t in with_shell(probe_script(found, service, "tui-saw.txt"))
        ]
        app = make_app(repo, scripted(turns))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.engine is not None)
            app.start_task("median of an even list is wrong")
            await wait_for(pilot, lambda: app.last_report is not None, timeout=120)
        report = app.last_report
        assert report and report["sandbox"] == "bubblewrap (workspace, network off)"
        assert_contained(found, service, git(repo, "show", f"{report['branch']}:tui-saw.txt"))


def headless_fix(repo: Path, script: list[dict[str, object]], config: str, tmp_path: Path, *flags: str):
    (tmp_path / "script.json").write_text(json.dumps(script))
    (tmp_path / "xdg" / "local-agent").mkdir(parents=True)
    (tmp_path / "xdg" / "local-agent" / "config.toml").write_text(config)
    argv = [
        "--repo",
        str(repo),
        "fix",
        "median is wrong",
        "--script",
        str(tmp_path / "script.json"),
        "--json",
    ]
    env = {**os.environ, **SECRET_ENV, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    run = subprocess.run(
        [*AGENT, *argv, *flags],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    return run, report_from_stream(run.stdout), events


@pytest.mark.parametrize("flags", [["--headless"], []], ids=["--headless", "stdin-not-a-terminal"])
def test_approval_always_in_a_headless_run_refuses_every_command(tmp_path: Path, flags: list[str]) -> None:
    repo = median_repo(tmp_path / "user")
    script = with_shell("touch ran.txt; echo ran")
    run, report, events = headless_fix(repo, script, '[sandbox]\napproval = "always"\n', tmp_path, *flags)
    assert "nobody can approve a command" in run.stderr  # the user reads it before the run
    assert report["sandbox"].endswith("approval always: every command refused (headless run)")
    shell = next(e for e in events if e["kind"] == "tool_finished" and e["name"] == "shell")
    assert (
        not shell["ok"]
        and "needs a person's approval (approval = always) and the run is headless" in (shell["output"])
    )  # the model reads why
    assert "ran.txt" not in report["files_changed"] and "\nran\n" not in shell["output"]
    assert report["status"] != "resolved"  # its tests could not run either: nothing verified the change


def test_the_terminal_approver_asks_and_only_yes_runs() -> None:
    request = ApprovalRequest(tool="shell", command="make deploy", cwd="/w", reason="approval = always")
    shown = io.StringIO()
    answers = TerminalApprover(io.StringIO("y\na\nn\n\nwhatever\n"), shown)
    assert [answers(request) for _ in range(6)] == [
        "approve",
        "approve_always",
        "deny",
        "deny",
        "deny",
        "deny",
    ]
    assert (
        "make deploy" in shown.getvalue()
        and "[y] once, [a] always this command, [n] deny" in shown.getvalue()
    )


PROBE_TEST = """
import json, os, socket, sys
from pathlib import Path


def _probe():
    seen = {{"cwd": os.getcwd(), "key": os.environ.get("OPENAI_API_KEY", "absent")}}
    try:
        (Path.home() / "{name}").write_text("escaped")
        Path("/tmp/{name}").write_text("escaped")
        seen["planted"] = True
    except OSError as exc:
        seen["planted"] = str(exc)
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
        seen["net"] = "connected"
    except OSError:
        seen["net"] = "unreachable"
    with open("probe-log.jsonl", "a") as log:
        log.write(json.dumps(seen) + "\\n")


_probe()
"""


def test_eval_scores_a_change_in_the_sandbox_not_on_the_host(tmp_path: Path) -> None:
    """The task's tests (model-written code could run in them) try to escape while scoring."""
    with markers() as found, loopback_service() as service:
        probe = PROBE_TEST.format(name=found.name, port=service.port)
        make_repo(tmp_path / "task", {"stats.py": BUGGY_MEDIAN, "test_stats.py": probe + MEDIAN_TESTS})
        task = {
            "id": "escape",
            "issue": "median([1, 2, 3, 4]) returns 3, it should be 2.5",
            "repo": "task",
            "test_cmd": f"{sys.executable} -m pytest -q -p no:cacheprovider",
            "fail_to_pass": ["test_stats.py::test_even"],
            "pass_to_pass": ["test_stats.py::test_odd"],
        }
        (tmp_path / "tasks.jsonl").write_text(json.dumps(task) + "\n")
        out = tmp_path / "out"
        argv = [*AGENT, "eval", str(tmp_path / "tasks.jsonl"), "--script", str(SCRIPT), "--out", str(out)]
        run = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **SECRET_ENV},
        )
        assert run.returncode == 0 and "resolved: 1/1" in run.stdout, run.stderr[-3000:]
        scored = out / "tasks" / "escape" / "repo"
        lines = [json.loads(line) for line in (scored / "probe-log.jsonl").read_text().splitlines()]
        scoring = [s for s in lines if Path(s["cwd"]).resolve() == scored.resolve()]
        assert scoring, lines  # the scoring run's own line: it ran, in the task's tree
        for seen in scoring:
            assert seen == {"cwd": seen["cwd"], "key": "absent", "planted": True, "net": "unreachable"}
        assert found.on_host() == [] and service.reached == 0
        assert SECRET not in (out / "results" / "escape.json").read_text()
