"""Before the verdict a regression must happen twice (agent/loop/confirm.py), and a test file that
fails to import hides nothing (tools/run_tests.py keeps collecting): real repositories, the real
sandbox, the scripted median fix."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import Notice, ToolStarted
from agent.run.report import EvidenceSummary, RunReport
from tests.paths import MEDIAN_SCRIPT
from tests.repos import BUGGY_MEDIAN, MEDIAN_TESTS, make_repo
from tests.scripts import FINISH, PLAN, TEST, run_fix, scripted
from tools.run_tests import keeps_collecting

# fails on the first run that sees the fixed median, passes on every other run (a marker file the
# suite leaves in the ignored .state/ directory), as a pager or clock test does now and then
FLAKY_ONCE = """import os
from stats import median

MARK = os.path.join(os.path.dirname(__file__), ".state", "seen")


def test_pager():
    if median([1, 2, 3, 4]) == 2.5 and not os.path.exists(MARK):
        os.makedirs(os.path.dirname(MARK), exist_ok=True)
        open(MARK, "w").close()
        assert False, "the pager did not start"
"""

# fails the first time it sees each changed version of stats.py, passes when run again on it
FLAKY_ON_EACH_CHANGE = """import hashlib
from pathlib import Path

HERE = Path(__file__).parent


def test_pager():
    code = (HERE / "stats.py").read_bytes()
    mark = HERE / ".state" / hashlib.sha256(code).hexdigest()
    if b"return s[len(s) // 2]\\n" not in code and not mark.exists():
        mark.parent.mkdir(exist_ok=True)
        mark.touch()
        assert False, "the pager did not start"
"""
# each changes test_even's result (3, then 2, 1.5, 1.75) and none fixes it; the last one does
RETURNS = [
    "    return s[len(s) // 2]\n",
    "    return s[(len(s) - 1) // 2]\n",
    "    return s[(len(s) - 1) // 2] if len(s) % 2 else s[0] + 0.5\n",
    "    return s[(len(s) - 1) // 2] if len(s) % 2 else s[0] + 0.75\n",
    "    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2\n",
]


def edit(before: str, after: str) -> ScriptedTurn:
    arguments = {"path": "stats.py", "old_text": before, "new_text": after}
    return ScriptedTurn(tool_calls=[{"name": "edit_file", "arguments": arguments}])


PINS_THE_BUG = """from stats import median


def test_pinned():
    assert median([1, 2, 3, 4]) == 3
"""


def evidence(report: RunReport) -> EvidenceSummary:
    assert report.evidence is not None
    return report.evidence


def repo_with(tmp_path: Path, extra: dict[str, str]) -> Path:
    files = {"stats.py": BUGGY_MEDIAN, "test_stats.py": MEDIAN_TESTS, ".gitignore": ".state/\n", **extra}
    return make_repo(tmp_path / "user", files)


def fix_without_running_tests() -> ScriptedEngine:
    """The median fix, the model never running the tests itself: the run after the edit (the loop's
    own) is the last one before the verdict."""
    turns = [ScriptedTurn(**turn) for turn in json.loads(MEDIAN_SCRIPT.read_text())]
    return scripted([t for t in turns if not any(call.name == "run_tests" for call in t.tool_calls)])


def test_a_test_that_fails_once_after_the_fix_is_flaky_not_a_regression(tmp_path: Path) -> None:
    report, _ = run_fix(repo_with(tmp_path, {"test_pager.py": FLAKY_ONCE}), fix_without_running_tests())
    assert report.status == "resolved", report.verdict
    assert evidence(report).flaky == ["test_pager.py::test_pager"] and evidence(report).regressions == []
    assert "flaky" in report.verdict and evidence(report).fixed == ["test_stats.py::test_even"]


def test_a_test_that_fails_in_both_runs_stays_a_regression(tmp_path: Path) -> None:
    report, _ = run_fix(repo_with(tmp_path, {"test_pinned.py": PINS_THE_BUG}), scripted())
    assert report.status == "not_resolved", report.verdict
    assert evidence(report).regressions == ["test_pinned.py::test_pinned"] and evidence(report).flaky == []


def test_a_test_file_that_does_not_import_hides_no_other_test(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"test_broken.py": "import a_module_nobody_installed\n"})
    report, _ = run_fix(repo, scripted())
    assert report.status == "resolved", report.verdict
    assert evidence(report).fixed == ["test_stats.py::test_even"]
    assert evidence(report).still_failing == ["test_broken.py"]  # reported, as before the change
    assert report.tests is not None and report.tests.passed == 2 and report.tests.errors == 1


def test_only_commands_that_run_pytest_themselves_are_told_to_keep_collecting() -> None:
    flag = " --continue-on-collection-errors"
    for command in ("pytest -q", "python -m pytest -q", "/v/bin/python3 -m pytest", "uv run pytest x"):
        assert keeps_collecting(command) == command + flag
    for command in ("make test", "tox -e py", "pytest -q && echo done", "npm test", "python -m unittest"):
        assert keeps_collecting(command) == command
    assert keeps_collecting("pytest" + flag) == "pytest" + flag


def test_a_test_that_fails_once_after_each_edit_is_not_counted_against_the_edits(tmp_path: Path) -> None:
    """Three edits that each change the result without fixing it, each run beside a test that fails
    the first time and passes when run again (a pager on a loaded machine): the newly failing test
    runs again alone, is seen flaky and not counted, so the three do not count as edits that did no
    better (which would end the attempt) and the fourth, the fix, is reached."""
    repo = repo_with(tmp_path, {"test_pager.py": FLAKY_ON_EACH_CHANGE})
    edits = [edit(a, b) for a, b in itertools.pairwise(RETURNS)]
    report, events = run_fix(repo, scripted([PLAN, *edits, TEST, FINISH]))
    assert report.status == "resolved", report.verdict
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert not any("did no better" in n for n in notices), notices
    flaky = [n for n in notices if n.startswith("flaky, not counted against the edit")]
    assert len(flaky) == 1 and "test_pager.py::test_pager" in flaky[0]  # seen once, then known
    rechecks = [e.call for e in events if isinstance(e, ToolStarted) and e.call.id.startswith("recheck_")]
    assert [c.arguments for c in rechecks] == [{"paths": ["test_pager.py::test_pager"]}]
