"""A test about the issue that still fails means the issue is not fixed (agent/run/issue_tests.py):
on real pytest output, and through whole runs in the real sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.engines.scripted import ScriptedTurn
from agent.run.issue_tests import about_the_issue, defined_issue_names, failure_sections, section_title
from tests.recording import RecordingEngine
from tests.repos import make_repo
from tests.scripts import run_fix, turns

ISSUE = (
    "`median` is wrong for even-length lists: `median([10, 20, 30, 40])` returns 30 and "
    "`median([10, 30])` returns 30; they should be 25.0 and 20.0."
)
STATS = '''def median(xs):
    """Median of a non-empty list."""
    s = sorted(xs)
    return s[len(s) // 2]
'''
TESTS = (
    "import os\nfrom stats.central import median\n\n\n"
    "def test_even_long():\n    assert median([10, 20, 30, 40]) == 25.0\n\n\n"
    "def test_pair():\n    assert median([10, 30]) == 20.0\n\n\n"
    "def test_odd():\n    assert median([3, 1, 2]) == 2\n\n\n"
    "def test_needs_a_service():\n    assert os.environ.get('STATS_SERVICE') == 'up'\n"
)


def fence(code: str, before: str) -> ScriptedTurn:
    return ScriptedTurn(text=f"{before}\n\n```python\n{code}```")


# right for four values, still wrong for two: one of the issue's tests passes, the other fails
PARTIAL = fence(
    "def median(xs):\n    s = sorted(xs)\n    mid = len(s) // 2\n"
    "    if len(s) % 2 == 0 and mid > 1:\n        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n",
    "Average the two middle values.",
)
FIX = fence(
    "def median(xs):\n    s = sorted(xs)\n    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
    "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n",
    "For an even length the median is the mean of the two middle values.",
)


def stats_repo(root: Path) -> Path:
    files = {"stats/__init__.py": "", "stats/central.py": STATS, "tests/test_central.py": TESTS}
    return make_repo(root, files)


def pytest_output(root: Path) -> str:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--tb=short"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True).stdout


def test_each_failing_test_is_read_from_its_own_section(tmp_path: Path) -> None:
    repo = stats_repo(tmp_path / "stats")
    output = pytest_output(repo)
    sections = failure_sections(output)
    assert set(sections) == {"test_even_long", "test_pair", "test_needs_a_service"}
    assert "median([10, 30])" in sections["test_pair"] and "median" not in sections["test_needs_a_service"]
    failing = [
        f"tests/test_central.py::{name}" for name in ("test_even_long", "test_pair", "test_needs_a_service")
    ]
    names = defined_issue_names(ISSUE, repo, None)
    assert names == {"median"}  # the issue's other code-shaped words are not the repository's code
    assert about_the_issue(failing, output, names) == failing[:2]
    assert about_the_issue(failing, output, set()) == []
    assert section_title("a/test_b.py::TestC::test_d[1-2]") == "TestC.test_d[1-2]"


def test_a_fix_that_leaves_one_of_the_issues_tests_failing_is_not_resolved(tmp_path: Path) -> None:
    repo = stats_repo(tmp_path / "stats")
    engine = RecordingEngine(turns(PARTIAL), samples=True)
    report, _ = run_fix(repo, engine, task=ISSUE, repair="always", reproduce="always")
    assert report.evidence is not None
    assert report.evidence.fixed == ["tests/test_central.py::test_even_long"]
    assert "tests/test_central.py::test_pair" in report.evidence.still_failing
    assert report.status == "not_resolved", report.verdict
    assert "tests/test_central.py::test_pair is about the issue, so it is not fixed" in report.verdict
    assert "test_needs_a_service" not in report.verdict.split(";")[-1]  # not about the issue


def test_a_test_failing_for_reasons_of_its_own_still_does_not_block_the_fix(tmp_path: Path) -> None:
    repo = stats_repo(tmp_path / "stats")
    engine = RecordingEngine(turns(FIX), samples=True)
    report, _ = run_fix(repo, engine, task=ISSUE, repair="always", reproduce="always")
    assert report.status == "resolved", report.verdict
    assert report.evidence is not None
    assert report.evidence.still_failing == ["tests/test_central.py::test_needs_a_service"]
