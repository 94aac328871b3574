"""`agent undo` on a real run: a scripted `agent fix` makes edits, undo reverts them on the branch."""

from __future__ import annotations

import json
from pathlib import Path

from agent.cli.headless import report_from_stream
from tests.commands import run_agent
from tests.repos import BUGGY_MEDIAN, git, median_repo, snapshot

FIX = (
    "    mid = len(s) // 2\n    if len(s) % 2 == 0:\n        return (s[mid - 1] + s[mid]) / 2\n"
    "    return s[mid]\n"
)
SCRIPT = [
    {"text": "1. Fix\n2. Test"},
    {
        "tool_calls": [
            {
                "name": "edit_file",
                "arguments": {"path": "stats.py", "old_text": "    return s[len(s) // 2]\n", "new_text": FIX},
            }
        ]
    },
    {"tool_calls": [{"name": "create_file", "arguments": {"path": "NOTES.txt", "content": "why\n"}}]},
    {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
    {"tool_calls": [{"name": "finish", "arguments": {"summary": "averaged the middle pair"}}]},
]


def test_agent_undo_reverts_edits_one_commit_at_a_time_on_the_branch(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    fixed = run_agent(
        ["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], cwd=repo
    )
    assert fixed.returncode == 0, fixed.stderr
    report = report_from_stream(fixed.stdout)
    branch, session = report["branch"], report["session_id"]
    assert (repo / ".git/.agent/sessions" / f"{session}.edits").is_file()
    before = snapshot(repo)

    first = run_agent(["undo"], cwd=repo)
    assert first.returncode == 0, first.stderr
    assert f"undid 1 edit(s) of session {session} on {branch}: create_file NOTES.txt" in first.stdout
    assert "1 edit(s) left to undo" in first.stdout
    assert "NOTES.txt" not in git(repo, "ls-tree", "--name-only", branch)
    assert git(repo, "show", f"{branch}:stats.py") == BUGGY_MEDIAN.replace("    return s[len(s) // 2]\n", FIX)

    second = run_agent(["undo", session[:12]], cwd=repo)
    assert (
        second.returncode == 0 and "edit_file stats.py" in second.stdout and "nothing left" in second.stdout
    )
    assert git(repo, "show", f"{branch}:stats.py") == BUGGY_MEDIAN
    log = git(repo, "log", "--format=%s", branch).splitlines()
    assert log[:2] == [f"agent: undo 1 edit(s) of session {session}"] * 2
    assert snapshot(repo) == before  # the user's checkout, index and HEAD are untouched

    done = run_agent(["undo"], cwd=repo)
    assert done.returncode == 2 and "nothing left to undo" in done.stderr


def test_agent_undo_refuses_when_the_branch_changed_or_is_checked_out(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    report = report_from_stream(
        run_agent(["fix", "median", "--script", str(script), "--json"], cwd=repo).stdout
    )
    branch = report["branch"]
    git(repo, "checkout", "-q", branch)
    busy = run_agent(["undo"], cwd=repo)
    assert busy.returncode == 2 and "is checked out at" in busy.stderr
    (repo / "NOTES.txt").write_text("edited by hand\n")
    git(repo, "commit", "-qam", "hand edit")
    git(repo, "checkout", "-q", "main")
    changed = run_agent(["undo"], cwd=repo)
    assert changed.returncode == 2 and "NOTES.txt changed after edit 2" in changed.stderr
    assert git(repo, "log", "-1", "--format=%s", branch).strip() == "hand edit"


def test_agent_undo_without_sessions_says_so(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = run_agent(["undo"], cwd=repo)
    assert result.returncode == 2 and "no session has recorded edits" in result.stderr
