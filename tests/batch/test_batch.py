"""`agent batch` and `agent eval` with the ScriptedEngine and the oracle: task formats, concurrent
workers, results and predictions, and a killed run resuming without redoing finished tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.batch.sources import MiniBugsSet, RepoSource, ScriptedSet
from agent.batch.tasks import TaskFileError, load_tasks
from tests.batch_support import EVAL_DIR, agent, median_tasks, results
from tests.bench.minibugs import minibugs_dir
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT


def slow_script(tmp_path: Path, seconds: float) -> Path:
    turns = json.loads(SCRIPT.read_text())
    turns.insert(1, {"tool_calls": [{"name": "shell", "arguments": {"command": f"sleep {seconds}"}}]})
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(turns))
    return path


def batch_args(tasks: Path, out: Path, script: Path, workers: int = 1, command: str = "batch") -> list[str]:
    return [command, str(tasks), "--workers", str(workers), "--script", str(script), "--out", str(out)]


# ---- task files ------------------------------------------------------------------------------


def test_task_formats(tmp_path: Path) -> None:
    repo_tasks = load_tasks(median_tasks(tmp_path, 2))
    assert [t.id for t in repo_tasks] == ["median-0", "median-1"]
    assert isinstance(repo_tasks[0].source, RepoSource) and repo_tasks[0].spec.issue.startswith("median(")
    minibugs = load_tasks(minibugs_dir(), only=["median-even-length"])
    assert isinstance(minibugs[0].source, MiniBugsSet) and minibugs[0].spec.test_cmd
    evals = load_tasks(EVAL_DIR)
    assert len(evals) == 20 and all(isinstance(t.source, ScriptedSet) for t in evals)
    assert evals[0].spec.fail_to_pass and evals[0].spec.gold_files
    assert len(load_tasks(EVAL_DIR / "tasks.jsonl", limit=3)) == 3


def test_task_file_errors(tmp_path: Path) -> None:
    orphan = tmp_path / "orphan.jsonl"
    orphan.write_text('{"id": "a", "issue": "x"}\n')
    with pytest.raises(TaskFileError, match=r"no `repo` field and there is no materialize\.py"):
        load_tasks(orphan)
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "a", "issue": "x", "repo": "r"}\n{"id": "a", "issue": "y", "repo": "r"}\n')
    with pytest.raises(TaskFileError, match="unique"):
        load_tasks(twice)
    with pytest.raises(TaskFileError, match="no task 'nope'"):
        load_tasks(EVAL_DIR, only=["nope"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(TaskFileError, match=r"bad.jsonl:1: not a task"):
        load_tasks(bad)


# ---- batch runs ------------------------------------------------------------------------------


def test_batch_with_four_workers_writes_every_result_and_predictions(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 6)
    out = tmp_path / "out"
    started = time.monotonic()
    run = agent(batch_args(tasks, out, SCRIPT, workers=4), tmp_path)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    found = results(out)
    assert sorted(found) == [f"median-{i}" for i in range(6)]
    assert all(r["status"] == "resolved" and r["resolved"] is None for r in found.values())
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in predictions] == [f"median-{i}" for i in range(6)]
    assert {tuple(sorted(p)) for p in predictions} == {("instance_id", "model_name_or_path", "model_patch")}
    for prediction in predictions:  # each patch applies to the task's original repository
        patch = tmp_path / f"{prediction['instance_id']}.patch"
        patch.write_text(prediction["model_patch"])
        git(tmp_path / f"repo{prediction['instance_id'][-1]}", "apply", "--check", str(patch))
    assert "6/6" in run.stderr and "resolved: 6" in run.stdout
    print(f"batch, scripted engine, 6 tasks, 4 workers: {elapsed:.1f}s")


def test_a_killed_batch_resumes_without_redoing_finished_tasks(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 6)
    out = tmp_path / "out"
    args = [*AGENT, *batch_args(tasks, out, slow_script(tmp_path, 2), workers=2)]
    proc = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(results(out)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its `agent fix` children, mid-run
    proc.wait()
    first = results(out)
    assert 2 <= len(first) < 6, "the kill should land mid-batch"
    kept = {tid: (out / "results" / f"{tid}.json").stat().st_mtime_ns for tid in first}
    events = {tid: (out / "tasks" / tid / "events.jsonl").stat().st_mtime_ns for tid in first}

    resumed = agent(batch_args(tasks, out, SCRIPT, workers=2), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(first)} already finished" in resumed.stderr
    final = results(out)
    assert sorted(final) == [f"median-{i}" for i in range(6)]
    assert all(r["status"] == "resolved" for r in final.values())
    for tid, mtime in kept.items():  # finished tasks were neither rerun nor rewritten
        assert (out / "results" / f"{tid}.json").stat().st_mtime_ns == mtime and final[tid] == first[tid]
        assert (out / "tasks" / tid / "events.jsonl").stat().st_mtime_ns == events[tid]
    redone = [line for line in resumed.stderr.splitlines() if line.startswith("[")]
    assert len([line for line in redone if ": resolved" in line]) == 6 - len(first)
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 6


def test_ctrl_c_stops_the_batch_cleanly(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 3)
    out = tmp_path / "out"
    args = [*AGENT, *batch_args(tasks, out, slow_script(tmp_path, 30), workers=3)]
    proc = subprocess.Popen(
        args,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from a terminal: a suite started in the background (`pytest &`) ignores SIGINT, and
        # its children would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def sleeping() -> int:  # children inside their `sleep 30` (not the baseline test run before it)
        logs = (out / "tasks").glob("*/events.jsonl")
        return sum('"name":"shell"' in log.read_text() for log in logs)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sleeping() < 3:
        time.sleep(0.1)
    assert sleeping() == 3
    for i in range(3):
        assert "agent/" in git(out / "tasks" / f"median-{i}" / "repo", "branch", "--list")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    assert results(out) == {}
    for i in range(3):  # each child removed its worktree and branch
        repo = out / "tasks" / f"median-{i}" / "repo"
        assert "agent/" not in git(repo, "branch", "--list"), stderr


def test_eval_scores_with_the_tasks_tests(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 2)
    idle = tmp_path / "idle.json"
    idle.write_text('[{"text": "1. think"}]')
    out = tmp_path / "out"
    resolved = agent([*batch_args(tasks, out, SCRIPT, command="eval"), "--only", "median-0"], tmp_path)
    assert resolved.returncode == 0, resolved.stderr
    assert "resolved: 1/1 (100.0%)" in resolved.stdout
    other = tmp_path / "out2"
    args = ["eval", str(tasks), "--script", str(idle), "--max-steps", "2", "--out", str(other)]
    unresolved = agent(args, tmp_path)
    assert unresolved.returncode == 0, unresolved.stderr
    assert "resolved: 0/2 (0.0%)" in unresolved.stdout
    found = results(other)
    assert found["median-0"]["resolved"] is False and found["median-0"]["status"] == "no_change"
    assert found["median-0"]["failed_tests"] == ["test_stats.py::test_even"]
    summary = json.loads((other / "summary.json").read_text())
    assert summary["resolved"] == 0 and summary["tasks"] == 2


def test_eval_oracle_on_seeded_bug_tasks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ids = ["median-even-length", "slugify-double-dash"]
    args = ["eval", str(minibugs_dir()), "--oracle", "--only", *ids, "--workers", "2", "--out", str(out)]
    run = agent(args, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "resolved: 2/2 (100.0%)" in run.stdout
    assert all(r["model"] == "oracle.json" and r["resolved"] for r in results(out).values())
    predictions = (out / "predictions.jsonl").read_text().splitlines()
    assert all(json.loads(line)["model_name_or_path"] == "oracle" for line in predictions)


def test_batch_usage_errors(tmp_path: Path) -> None:
    tasks = median_tasks(tmp_path, 1)
    embedded = agent(["batch", str(tasks), "--workers", "2"], tmp_path)
    assert embedded.returncode == 2 and "--base-url" in embedded.stderr
    oracle = agent(["eval", str(tasks), "--oracle", "--script", str(SCRIPT)], tmp_path)
    assert oracle.returncode == 2 and "--oracle is its own engine" in oracle.stderr
    missing = agent(["batch", str(tmp_path / "none.jsonl"), "--script", str(SCRIPT)], tmp_path)
    assert missing.returncode == 2 and "expected a JSON-lines task file" in missing.stderr
