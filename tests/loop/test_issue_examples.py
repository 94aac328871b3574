"""Tests of the issue's own example (agent/loop/issue_examples.py): one that failed before any
change and still fails means the issue is not fixed. The repair phase takes no such draft,
`finish` is refused, and the verdict says `not_resolved`; on the real tree, in the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engines.scripted import ScriptedTurn
from agent.events import Notice, ToolFinished
from agent.loop.evidence import judge
from agent.loop.issue_examples import example_calls, example_tests, makes_call, normalised
from tests.recording import RecordingEngine
from tests.repos import make_repo
from tests.scripts import run_fix, turns

ISSUE = (
    "`median([1, 2, 3, 4])` returns 3, but the median of an even-length list is 2.5; "
    "`median([20, 10, 30, 0])` gives 20 where 15 is right."
)
STATS = "def median(xs):\n    s = sorted(xs)\n    return s[len(s) // 2]\n"
TESTS = (
    "import os\nfrom stats.central import median\n\n\n"
    "def test_odd():\n    assert median([3, 1, 2]) == 2\n\n\n"
    "def test_even():\n    assert median([1, 2, 3, 4]) == 2.5\n\n\n"
    "def test_unsorted_even():\n    assert median([20, 10, 30, 0]) == 15\n\n\n"
    "def test_needs_a_service():\n    assert os.environ.get('STATS_SERVICE') == 'up'\n"
)
# averages the middle pair of the list as given, not sorted: fixes the sorted example only, and the
# unsorted one fails exactly as before (20)
PARTIAL_CODE = (
    "def median(xs):\n    s = sorted(xs)\n    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
    "        return (xs[mid - 1] + xs[mid]) / 2\n    return s[mid]\n"
)
PARTIAL = ScriptedTurn(text=f"Average the middle pair.\n\n```python\n{PARTIAL_CODE}```")
FIX = ScriptedTurn(
    text="Average the middle pair of the sorted values.\n\n```python\ndef median(xs):\n"
    "    s = sorted(xs)\n    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
    "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n```"
)
FAILING = [
    "tests/test_central.py::test_even",
    "tests/test_central.py::test_unsorted_even",
    "tests/test_central.py::test_needs_a_service",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"stats/__init__.py": "", "stats/central.py": STATS, "tests/test_central.py": TESTS}
    return make_repo(tmp_path / "user", files)


def test_the_calls_with_literals_are_the_examples() -> None:
    text = (
        "`add_business_days(date(2024, 5, 3), 1)` returns `date(2024, 5, 4)`. "
        'Also `tomlkit.parse("a = -1")`, `doc.as_string()`, `parse(content)`, `int("3")` and '
        "`sqlparse.format('x', strip_comments=True)`; see the docs (chapter 2)."
    )
    assert example_calls(text) == [
        "add_business_days(date(2024,5,3),1)",  # the outer call only
        "date(2024,5,4)",
        "parse('a=-1')",  # without its module, one kind of quote, no spaces but between words
        "format('x',strip_comments=True)",  # a builtin's name, but the module's function
    ]
    assert example_calls("no code here, (1, 2) and a call f(") == []


def test_a_test_makes_the_call_however_spaced_but_not_a_longer_name() -> None:
    calls = example_calls("`median([1, 2, 3, 4])` is wrong")
    assert makes_call("def test_x():\n    assert median( [1,2,3,4] ) == 2.5\n", calls)
    assert makes_call("def test_x():\n    assert stats.median([1, 2,\n        3, 4]) == 2.5\n", calls)
    assert not makes_call("def test_x():\n    assert my_median([1, 2, 3, 4]) == 2.5\n", calls)
    assert not makes_call("def test_x():\n    assert median([1, 2, 3, 5]) == 2.5\n", calls)
    assert normalised('assert  f("a b",\n 1)') == "assert f('a b',1)"


def test_the_failing_tests_that_make_the_issue_s_calls(repo: Path) -> None:
    (repo / "tests/test_more.py").write_text(
        "import pytest\nfrom stats.central import median\n\n\n"
        "class TestMedian:\n"
        "    @pytest.mark.parametrize('xs', [[20, 10, 30, 0]])\n"
        "    def test_param(self, xs):\n        assert median(xs) == 15\n"
    )
    failing = [*FAILING, "tests/test_more.py::TestMedian::test_param[xs0]", "tests/test_broken.py"]
    # a parametrised value is written as the test's value, not as the call: not the issue's call
    assert example_tests(repo, failing, ISSUE) == FAILING[:2]
    assert example_tests(repo, failing, "median is wrong for even lengths") == []


def test_an_example_test_still_failing_means_not_fixed() -> None:
    baseline = {"failing": FAILING, "passed": 1, "failed": 3, "counts_known": True, "whole_suite": True}
    now = {**baseline, "failing": FAILING[1:], "passed": 2, "failed": 2}
    evidence = judge(baseline, now, about_issue=FAILING[:2])
    assert evidence.fixed == FAILING[:1] and evidence.unfixed == FAILING[1:2]
    assert not evidence.shown_fixed and evidence.verdict() == "not_resolved"
    assert "so the issue is not fixed: tests/test_central.py::test_unsorted_even" in evidence.reason()
    # a test failing for reasons of its own still never blocks
    assert judge(baseline, {**now, "failing": FAILING[2:]}, about_issue=FAILING[:2]).verdict() == "resolved"


def test_the_repair_phase_takes_no_draft_that_leaves_an_example_failing(repo: Path) -> None:
    engine = RecordingEngine(turns(PARTIAL, FIX), samples=True)
    report, events = run_fix(repo, engine, task=ISSUE, repair="always", repair_drafts=2)
    assert report.status == "resolved", report.verdict
    assert report.evidence is not None
    assert report.evidence.still_failing == ["tests/test_central.py::test_needs_a_service"]
    assert "(s[mid - 1] + s[mid]) / 2" in report.diff and "xs[mid - 1]" not in report.diff
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert not any("draft 1 kept" in n for n in notices), notices


def test_finish_is_refused_and_the_verdict_is_not_resolved(repo: Path) -> None:
    edit = {
        "name": "edit_file",
        "arguments": {"path": "stats/central.py", "old_text": STATS, "new_text": PARTIAL_CODE},
    }
    finish = {"name": "finish", "arguments": {"summary": "median averages the middle pair"}}
    script = turns({"text": "1. Fix median"}, {"tool_calls": [edit]}, {"tool_calls": [finish]})
    report, events = run_fix(repo, RecordingEngine(script), task=ISSUE, max_steps=3)
    refusals = [e.output for e in events if isinstance(e, ToolFinished) and e.name == "finish" and not e.ok]
    assert refusals and "tests of the issue's own example still fail" in refusals[0], refusals
    assert "tests/test_central.py::test_unsorted_even" in refusals[0]
    assert report.status == "not_resolved"
    assert "so the issue is not fixed: tests/test_central.py::test_unsorted_even" in report.verdict
