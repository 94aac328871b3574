"""The held-back test (agent/loop/held_back.py): after a kept reproduction, a second test of the
issue's examples it leaves out, kept off the tree; it refuses a draft that passes the first test
but not the issue's other example, refuses `finish` on such a change, and decides the verdict.
Runs for real: a git repository, the real sandbox, pytest in it; the model is a script."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import Notice, ToolStarted
from agent.loop.drafted_tests import approximate_floats
from agent.loop.held_back import left_out, said_of
from agent.run.report import render_text
from tests.recording import RecordingEngine
from tests.repos import git as run_git
from tests.repos import make_repo
from tests.scripts import fence, run_fix, turns

ISSUE = (
    "`convert(1, 'km', 'm')` returns 0.001 instead of 1000, and `convert(250, 'cm', 'm')` gives "
    "25000 instead of 2.5: conversions come out upside down."
)
CONVERT = '''FACTORS = {"m": 1.0, "km": 1000.0, "cm": 0.01}


def convert(value, source, target):
    """`value` in unit `source`, in unit `target`."""
    return value * FACTORS[target] / FACTORS[source]
'''
PASSING_TESTS = (
    "from units.convert import convert\n\n\ndef test_same_unit():\n    assert convert(5, 'm', 'm') == 5\n"
)


KM = fence(
    "from units.convert import convert\n\n\ndef test_km():\n    assert convert(1, 'km', 'm') == 1000\n"
)
CM = fence(
    "from units.convert import convert\n\n\ndef test_cm():\n    assert convert(250, 'cm', 'm') == 2.5\n"
)
# right for kilometres only: the factor turned over, the formula left upside down
ONE_UNIT = fence('FACTORS = {"m": 1.0, "km": 0.001, "cm": 0.01}\n', "The kilometre factor is wrong.\n\n")
FIX = fence(
    "def convert(value, source, target):\n    return value * FACTORS[source] / FACTORS[target]\n",
    "The formula divides the wrong way round.\n\n",
)
HELD_BACK_PATH = "tests/test_issue_convert_km_held_back.py"


@pytest.fixture
def units_repo(tmp_path: Path) -> Path:
    files = {"units/__init__.py": "", "units/convert.py": CONVERT, "tests/test_convert.py": PASSING_TESTS}
    return make_repo(tmp_path / "user", files)


def test_the_examples_left_out_are_the_calls_the_kept_test_does_not_make() -> None:
    kept = "def test_km():\n    assert convert(1, 'km', 'm') == 1000\n"
    assert left_out(ISSUE, kept) == ["convert(250,'cm','m')"]
    both = kept + "\n\ndef test_cm():\n    assert convert(250, 'cm', 'm') == 2.5\n"
    assert left_out(ISSUE, both) == []


def test_the_prompt_gives_what_the_issue_says_of_each_example_to_the_sentence_end() -> None:
    issue = (
        "`is_valid('378282246310005')` returns False, and so does `is_valid('79927398713')`; both "
        "pass the check and should give True. Other numbers work."
    )
    assert said_of(issue, ["is_valid('79927398713')"]) == [
        "`is_valid('79927398713')`; both pass the check and should give True."
    ]


def test_a_float_the_test_expects_is_compared_up_to_rounding() -> None:
    """12 inches in feet computes as 0.9999999999999998: a held-back test expecting the issue's 1.0
    must not refute the correct fix."""
    code = "from units import convert\n\n\ndef test_in():\n    assert convert(12, 'in', 'ft') == 1.0\n"
    rounded = approximate_floats(code)
    assert "assert convert(12, 'in', 'ft') == pytest.approx(1.0)" in rounded
    assert rounded.startswith("import pytest\n")
    namespace: dict[str, object] = {}
    exec(
        rounded.replace("from units import convert", "convert = lambda v, a, b: v * 0.0254 / 0.3048"),
        namespace,
    )
    namespace["test_in"]()  # type: ignore[operator]  # passes: 0.9999999999999998 is 1.0 up to rounding
    assert (
        approximate_floats("def test_n():\n    assert f(1) == 3\n") == "def test_n():\n    assert f(1) == 3\n"
    )


def test_an_example_the_issue_says_already_works_is_not_left_out() -> None:
    issue = (
        "`is_valid_email('ann@mail.example.co.uk')` returns False; it should be True. "
        "`is_valid_email('ann@example.com')` already works."
    )
    kept = "def test_it():\n    assert is_valid_email('ann@mail.example.co.uk') is True\n"
    assert left_out(issue, kept) == []


def test_with_no_example_call_the_quoted_values_the_test_does_not_use_are_left_out() -> None:
    issue = (
        "`Settings.from_env()` turns `DEBUG=false` into `debug=True`. The strings 'false', '0', 'no' "
        "and 'off' must read as False."
    )
    kept = "def test_it(monkeypatch):\n    monkeypatch.setenv('DEBUG', 'false')\n"
    kept += "    assert not from_env().debug\n"
    assert left_out(issue, kept) == ["no", "off"]


def test_a_draft_that_fails_the_held_back_example_is_refused_and_the_general_fix_taken(
    units_repo: Path,
) -> None:
    engine = RecordingEngine(turns(KM, CM, ONE_UNIT, ONE_UNIT, ONE_UNIT, FIX), samples=True)
    report, events = run_fix(units_repo, engine, task=ISSUE, repair="always", reproduce="always")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert "held-back test draft 1: kept" in " ".join(notices), notices
    assert "held-back test with its floats compared up to rounding: fails" in notices
    asked = engine.conversations[1][-1].content  # the held-back test's prompt, on from the kept one
    assert "- `convert(250, 'cm', 'm')` gives 25000 instead of 2.5:" in asked, asked
    assert any("refused: the held-back test of the issue's other examples" in n for n in notices), notices
    told = [
        c for c in engine.conversations if "That change was refused: the tests pass with it" in c[-1].content
    ]
    assert told, "the model was never told why its draft was refused"
    assert "convert(250,'cm','m')" in told[0][-1].content and "25000" in told[0][-1].content
    # the repair prompts never show the held-back test itself
    assert not any("def test_cm" in m.content for c in engine.conversations[2:] for m in c)
    assert report.status == "resolved", report.verdict
    assert "FACTORS[source] / FACTORS[target]" in report.diff and '"km": 0.001' not in report.diff
    assert report.reproduction is not None and report.reproduction.held_back_passed is True
    assert report.reproduction.held_back == "convert(250,'cm','m')"
    written = [e.call.arguments.get("path") for e in events if isinstance(e, ToolStarted)]
    assert HELD_BACK_PATH in written  # drafted and run there...
    assert HELD_BACK_PATH not in report.files_changed  # ...but off the tree: never part of the change
    listed = run_git(units_repo, "ls-tree", "-r", "--name-only", str(report.branch))
    assert "tests/test_issue_convert_km.py" in listed and HELD_BACK_PATH not in listed
    assert "held-back test of convert(250,'cm','m'): passes on the change" in render_text(report)


def test_finish_on_a_change_the_held_back_test_refutes_is_refused_and_not_resolved(units_repo: Path) -> None:
    arguments = {"path": "units/convert.py", "old_text": '"km": 1000.0', "new_text": '"km": 0.001'}
    edit = {"tool_calls": [{"name": "edit_file", "arguments": arguments}]}
    finish = {"tool_calls": [{"name": "finish", "arguments": {"summary": "kilometres fixed"}}]}
    script = turns(KM, CM, {"text": "1. Fix the factor"}, edit, finish, finish)
    engine = RecordingEngine(script, samples=True)
    report, _ = run_fix(units_repo, engine, task=ISSUE, reproduce="always")
    refusals = [c[-1].content for c in engine.conversations if c[-1].content.startswith("Not finished")]
    assert refusals and "the held-back test of the issue's other examples" in refusals[0], refusals
    assert report.status == "not_resolved", report.verdict
    assert "held-back test of the issue's other examples (convert(250,'cm','m')) fails" in report.verdict
    assert report.evidence is not None
    assert report.evidence.fixed == ["tests/test_issue_convert_km.py::test_km"]
    assert report.reproduction is not None and report.reproduction.held_back_passed is False
    assert HELD_BACK_PATH not in report.files_changed
    assert "held-back test of convert(250,'cm','m'): FAILS on the change" in render_text(report)


def test_a_held_back_draft_that_passes_before_any_change_is_refused(units_repo: Path) -> None:
    """A second test that does not fail on the code as it is shows nothing: none is held back,
    and the run goes on with the first test alone."""
    passes = fence(
        "from units.convert import convert\n\n\ndef test_cm():\n    assert convert(250, 'cm', 'cm') == 250\n"
        "    assert convert(250, 'cm', 'm') > 0\n"
    )
    engine = RecordingEngine(turns(KM, passes, FIX), samples=True)
    report, events = run_fix(units_repo, engine, task=ISSUE, repair="always", reproduce="always")
    notices = " ".join(e.message for e in events if isinstance(e, Notice))
    assert "held-back test draft 1: refused: the test passes on the code as it is" in notices
    assert "held-back test draft 2" not in notices  # the examples left out may all work: no more drafts
    assert report.status == "resolved", report.verdict
    assert report.reproduction is not None and report.reproduction.held_back == ""
