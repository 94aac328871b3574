"""Reproduce first (agent/loop/reproduce.py): with no failing test, the model writes one from the
issue, run alone on the real tree in the real sandbox, kept only when it fails for the reason the
issue states; then the repair phase runs against it, and the verdict counts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.engines.scripted import ScriptedTurn
from agent.events import Notice, ToolStarted
from agent.run.report import render_text
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import make_repo, snapshot
from tests.scripts import fence, run_fix, turns

ISSUE = "`median([1, 2, 3, 4])` returns 3, but the median of an even-length list is 2.5."
STATS = '''def median(xs):
    """Median of a non-empty list."""
    s = sorted(xs)
    return s[len(s) // 2]
'''
PASSING_TESTS = "from stats.central import median\n\n\ndef test_odd():\n    assert median([3, 1, 2]) == 2\n"


TYPO = fence(
    "from stats.central import medain\n\n\ndef test_even():\n    assert medain([1, 2, 3, 4]) == 2.5\n"
)
PASSES = fence(
    "from stats.central import median\n\n\ndef test_odd_again():\n    assert median([5, 1, 3]) == 3\n"
)
FAITHFUL = fence(
    "from stats.central import median\n\n\ndef test_even():\n    assert median([1, 2, 3, 4]) == 2.5\n"
)
FIX = fence(
    "def median(xs):\n    s = sorted(xs)\n    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
    "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n",
    "For an even length the median is the mean of the two middle values.\n\n",
)
GAMED = fence(
    "def median(xs):\n    s = sorted(xs)\n    if s == [1, 2, 3, 4]:\n        return 2.5\n"
    "    return s[len(s) // 2]\n",
    "Handle the even list.\n\n",
)


@pytest.fixture
def issue_repo(tmp_path: Path) -> Path:
    """The bug, and tests that all pass: nothing shows it yet."""
    return make_repo(
        tmp_path / "user",
        {"stats/__init__.py": "", "stats/central.py": STATS, "tests/test_central.py": PASSING_TESTS},
    )


def test_a_faithful_reproduction_is_kept_and_the_repair_runs_against_it(issue_repo: Path) -> None:
    before = snapshot(issue_repo)
    engine = RecordingEngine(turns(TYPO, PASSES, FAITHFUL, FIX), samples=True)
    report, events = run_fix(issue_repo, engine, task=ISSUE, repair="always", reproduce="always")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any(n.startswith("reproduction draft 1: refused: the test does not run: ") for n in notices)
    assert "reproduction draft 2: refused: the test passes on the code as it is" in " ".join(notices)
    assert any(n.startswith("reproduce: kept tests/test_issue_median") for n in notices), notices
    assert report.status == "resolved" and report.stop_reason == "finished"
    assert report.reproduction is not None and report.reproduction.kept and report.reproduction.drafts == 3
    assert "2.5" in report.reproduction.reason
    path = report.reproduction.path
    assert path == "tests/test_issue_median.py" and path in report.files_changed
    assert report.evidence is not None and report.evidence.fixed == [f"{path}::test_even"]
    assert "1 of 1 test(s) that failed before now pass" in report.verdict
    assert "stats/central.py" in report.files_changed
    # the repair prompt goes on from the reproduction's conversation (its KV cache serves it all)
    repro_prompt, repair_prompt = engine.conversations[2], engine.conversations[3]
    assert repair_prompt[: len(repro_prompt)] == repro_prompt
    assert repair_prompt[-2].content == FAITHFUL.text and "The test fails on the code as it is" in (
        repair_prompt[-1].content
    )
    # the first prompt shows how the project's tests look and where the issue's names are
    first = engine.conversations[0][1].content
    assert "tests/test_central.py" in first and "from stats.central import median" in first
    # each refused draft goes back with why; the second correction starts a fresh thread
    assert (
        "That test does not reproduce the issue: the test does not run" in engine.conversations[1][-1].content
    )
    assert snapshot(issue_repo) == before
    assert "def test_even" in run_git(issue_repo, "show", f"{report.branch}:{path}")
    assert "reproduction: tests/test_issue_median.py" in render_text(report)


def test_no_faithful_reproduction_leaves_the_verdict_unverified(issue_repo: Path) -> None:
    """A change with no test that failed before: it may be right, but nothing shows it."""
    new = (
        "    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
        "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n"
    )
    arguments = {"path": "stats/central.py", "old_text": "    return s[len(s) // 2]\n", "new_text": new}
    edit = {"tool_calls": [{"name": "edit_file", "arguments": arguments}]}
    finish = {"tool_calls": [{"name": "finish", "arguments": {"summary": "averaged"}}]}
    engine = RecordingEngine(turns(TYPO, PASSES, {"text": "1. Fix median"}, edit, finish), samples=True)
    report, _ = run_fix(
        issue_repo,
        engine,
        task=ISSUE,
        repair="always",
        reproduce="always",
        reproduce_drafts=2,
    )
    assert report.status == "unverified" and report.exit_code() == 5
    assert report.reproduction is not None and not report.reproduction.kept
    assert "no faithful reproduction of the issue could be made" in report.verdict
    assert "UNVERIFIED" in render_text(report)


def test_a_draft_that_special_cases_the_test_is_refused_and_told_why(issue_repo: Path) -> None:
    engine = RecordingEngine(turns(FAITHFUL, GAMED, FIX), samples=True)
    report, events = run_fix(issue_repo, engine, task=ISSUE, repair="always", reproduce="always")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("refused: stats/central.py: line 3 tests for" in n for n in notices), notices
    assert report.status == "resolved" and report.special_cased == ""
    assert "s == [1, 2, 3, 4]" not in report.diff
    assert report.repair is not None and report.repair.drafts == 2


def test_a_round_of_special_cased_drafts_is_told_why_in_the_next_prompt(issue_repo: Path) -> None:
    """The round's closest draft was refused for special-casing: the next round's prompt shows it
    and says why (not its test output), and the fix after it is taken."""
    engine = RecordingEngine(turns(FAITHFUL, GAMED, GAMED, GAMED, FIX), samples=True)
    report, _ = run_fix(issue_repo, engine, task=ISSUE, repair="always", reproduce="always")
    assert report.status == "resolved", report.verdict
    told = [c for c in engine.conversations if "That change was refused" in c[-1].content]
    assert told, "the model was never told why its draft was refused"
    refusal, refused_draft = told[0][-1].content, told[0][-2]
    assert "stats/central.py: line 3 tests for" in refusal and "a fix must work for every input" in refusal
    assert refusal.endswith("in one ```python block.")
    assert refused_draft.role == "assistant" and "s == [1, 2, 3, 4]" in refused_draft.content
    assert "s == [1, 2, 3, 4]" not in report.diff


def test_a_test_that_fails_before_any_change_does_not_block_a_correct_fix(tmp_path: Path) -> None:
    """Real repositories hold tests that fail in a given environment: a fix of the issue's own
    failing test is resolved, and the other test is reported as still failing."""
    tests = (
        "import os\nfrom stats.central import median\n\n\n"
        "def test_even():\n    assert median([1, 2, 3, 4]) == 2.5\n\n\n"
        "def test_needs_a_service():\n    assert os.environ.get('STATS_SERVICE') == 'up'\n"
    )
    repo = make_repo(
        tmp_path / "user",
        {"stats/__init__.py": "", "stats/central.py": STATS, "tests/test_central.py": tests},
    )
    engine = RecordingEngine(turns(FIX), samples=True)
    report, events = run_fix(repo, engine, task=ISSUE, repair="always", reproduce="always")
    assert report.status == "resolved", report.verdict
    assert report.evidence is not None
    assert report.evidence.fixed == ["tests/test_central.py::test_even"]
    assert report.evidence.still_failing == ["tests/test_central.py::test_needs_a_service"]
    assert "still failing as before: tests/test_central.py::test_needs_a_service" in report.verdict
    assert report.reproduction is None  # a failing test named the issue's function: none needed
    runs = [e.call.id for e in events if isinstance(e, ToolStarted) and e.call.name == "run_tests"]
    assert runs[:2] == ["baseline", "repair_1_tests"]


def test_agent_fix_exits_5_with_the_unverified_status_in_json(issue_repo: Path, tmp_path: Path) -> None:
    """Through the real CLI: a change with nothing to show it works is `unverified`, exit code 5."""
    script = tmp_path / "script.json"
    edit = {
        "name": "edit_file",
        "arguments": {
            "path": "stats/central.py",
            "old_text": "    s = sorted(xs)\n",
            "new_text": "    s = sorted(list(xs))\n",
        },
    }
    finish = {"name": "finish", "arguments": {"summary": "sorted a list"}}
    script.write_text(json.dumps([{"text": "1. Edit"}, {"tool_calls": [edit]}, {"tool_calls": [finish]}]))
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "--repo",
            str(issue_repo),
            "fix",
            ISSUE,
            "--script",
            str(script),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")},
    )
    assert run.returncode == 5, run.stderr[-2000:]
    last = json.loads(run.stdout.strip().splitlines()[-1])
    assert last["kind"] == "run_finished" and last["report"]["status"] == "unverified"
    assert "no test failed before the change" in last["report"]["verdict"]


def test_a_failing_test_that_makes_the_issues_own_call_needs_no_reproduction(tmp_path: Path) -> None:
    """The failure lines of a test comparing containers name no function (pytest shows the two
    values, not the call); the test still makes the call the issue gives, so it is the issue's."""
    issue = "`bounds([4, 1, 9])` returns `(9, 1)`: the smallest value should come first, `(1, 9)`."
    code = "def bounds(xs):\n    return max(xs), min(xs)\n"
    tests = "from stats.spread import bounds\n\n\ndef test_order():\n    assert bounds([4, 1, 9]) == (1, 9)\n"
    repo = make_repo(
        tmp_path / "user",
        {"stats/__init__.py": "", "stats/spread.py": code, "tests/test_spread.py": tests},
    )
    fix = fence("def bounds(xs):\n    return min(xs), max(xs)\n", "The two are swapped.\n\n")
    engine = RecordingEngine(turns(fix), samples=True)
    report, events = run_fix(repo, engine, task=issue, repair="always", reproduce="always")
    assert report.status == "resolved", report.verdict
    assert report.reproduction is None
    runs = [e.call.id for e in events if isinstance(e, ToolStarted) and e.call.name == "run_tests"]
    assert runs[:2] == ["baseline", "repair_1_tests"]


def test_a_test_cut_off_mid_statement_keeps_its_whole_statements(issue_repo: Path) -> None:
    """The reply ran out of tokens in its third assertion: the two written whole run, and show the
    bug as the issue states it."""
    cut = ScriptedTurn(
        text="```python\nfrom stats.central import median\n\n\ndef test_even():\n"
        "    assert median([1, 2, 3, 4]) == 2.5\n    assert median([4, 1, 3, 2]) == 2.5\n"
        "    assert median([10, 20, 30, 4",
        cut=True,
    )
    engine = RecordingEngine(turns(cut, FIX), samples=True)
    report, events = run_fix(issue_repo, engine, task=ISSUE, repair="always", reproduce="always")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any(n.startswith("reproduction draft 1: kept: it fails on `assert 3 == 2.5`") for n in notices), (
        notices
    )
    assert report.status == "resolved", report.verdict
    assert report.reproduction is not None and report.reproduction.drafts == 1
    shipped = run_git(issue_repo, "show", f"{report.branch}:{report.reproduction.path}")
    assert "median([4, 1, 3, 2]) == 2.5" in shipped and "[10, 20, 30" not in shipped
