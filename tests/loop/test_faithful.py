"""Is a reproduction test faithful to the issue (agent/loop/faithful.py)? Each test here is run for
real with pytest, as the reproduction phase runs it, on a small buggy package, and judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.loop.faithful import judge_run
from tools.run_tests import PYTEST_OPTIONS, parse_pytest

CALENDAR = '''from datetime import date, timedelta


def next_workday(day: date) -> date:
    """The next day that is not a Saturday or a Sunday."""
    return day + timedelta(days=1)
'''
WORKDAY_ISSUE = (
    "`next_workday(date(2024, 5, 3))` (a Friday) returns Saturday `date(2024, 5, 4)`; "
    "expected Monday `date(2024, 5, 6)`."
)
TILL = """def receipt(lines, vat_rate):
    net = sum(price * count for price, count in lines)
    vat = round(net * vat_rate, 2)
    return {"net": net, "vat": vat, "total": round(net + vat, 2)}
"""
TILL_ISSUE = (
    "`receipt([(2.5, 1)], vat_rate=0.05)` gives `'vat': 0.12` and `'total': 2.62`; receipts round "
    "halves up: expected `'vat': 0.13`, `'total': 2.63`."
)
SETTINGS = """DEFAULTS = {"port": 8000, "host": "127.0.0.1"}


def load(overrides=None):
    merged = DEFAULTS
    merged.update(overrides or {})
    return merged
"""
SETTINGS_ISSUE = (
    "`load({'port': 9000})` changes the defaults: `load()` gives port 9000 afterwards. Expected "
    "`load()['port'] == 8000`."
)


def judged(tmp_path: Path, module: str, source: str, test: str, issue: str) -> tuple[bool, str]:
    """The reproduction `test` run alone on the package, as the reproduction phase runs it."""
    (tmp_path / f"{module}.py").write_text(source)
    tests = tmp_path / "tests"
    tests.mkdir(exist_ok=True)
    path = tests / "test_issue.py"
    path.write_text(test)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *PYTEST_OPTIONS, "tests/test_issue.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    output = run.stdout + run.stderr
    data = {**parse_pytest(output), "output": output, "exit_code": run.returncode}
    judgement = judge_run(data, test, issue)
    return judgement.faithful, judgement.reason


def test_a_test_that_expects_what_the_issue_states_is_kept(tmp_path: Path) -> None:
    test = (
        "from datetime import date\nfrom calendar_days import next_workday\n\n\n"
        "def test_friday():\n    assert next_workday(date(2024, 5, 3)) == date(2024, 5, 6)\n"
    )
    faithful, reason = judged(tmp_path, "calendar_days", CALENDAR, test, WORKDAY_ISSUE)
    assert faithful, reason


def test_an_expected_value_the_issue_does_not_state_is_refused(tmp_path: Path) -> None:
    """The failing assertion, on an input of the model's own, expects a Tuesday after a Sunday: the
    values pytest shows (2024, 5, 6) are all in the issue, but the date the test expects is not."""
    test = (
        "from datetime import date\nfrom calendar_days import next_workday\n\n\n"
        "def test_days():\n    assert next_workday(date(2024, 5, 3)) != date(2024, 5, 7)\n"
        "    assert next_workday(date(2024, 5, 5)) == date(2024, 5, 7)\n"
    )
    faithful, reason = judged(tmp_path, "calendar_days", CALENDAR, test, WORKDAY_ISSUE)
    assert not faithful
    assert "the value it expects is not one the issue states" in reason


def test_the_issue_s_expected_values_count_not_its_wrong_ones_nor_the_keys(tmp_path: Path) -> None:
    """pytest shows the two dicts with `...` for the items they share; the test's own expected side
    decides: 0.125 is the model's guess (the issue gives 0.13), though 'vat' and 0.12 are in it."""
    guess = (
        "from till import receipt\n\n\ndef test_vat():\n"
        '    assert receipt([(2.5, 1)], vat_rate=0.05) == {"net": 2.5, "vat": 0.125, "total": 2.625}\n'
    )
    faithful, reason = judged(tmp_path, "till", TILL, guess, TILL_ISSUE)
    assert not faithful and "not one the issue states" in reason
    stated = guess.replace("0.125", "0.13").replace("2.625", "2.63")
    faithful, reason = judged(tmp_path, "till", TILL, stated, TILL_ISSUE)
    assert faithful, reason


def test_expecting_the_input_back_is_not_what_the_issue_states(tmp_path: Path) -> None:
    test = (
        "from settings import load\n\n\ndef test_override():\n"
        '    assert load({"port": 9000}) == {"port": 9000}\n'
    )
    faithful, _ = judged(tmp_path, "settings", SETTINGS, test, SETTINGS_ISSUE)
    assert not faithful
    stated = (
        "from settings import load\n\n\ndef test_defaults_kept():\n"
        '    load({"port": 9000})\n    assert load()["port"] == 8000\n'
    )
    faithful, reason = judged(tmp_path, "settings", SETTINGS, stated, SETTINGS_ISSUE)
    assert faithful, reason


FLAGS = """from dataclasses import dataclass


@dataclass
class Flags:
    debug: bool = False
    port: int = 8000

    @classmethod
    def from_env(cls, env):
        return cls(debug=bool(env.get("DEBUG", "")))
"""
FLAGS_ISSUE = "`Flags.from_env()` turns `DEBUG=false` into `debug=True`: 'false' and 'no' must read as False."


def test_a_stated_word_the_failure_does_not_show_still_counts(tmp_path: Path) -> None:
    """pytest shows two dataclasses as `Flags(debu...ue, port=8000) == Flags(debu...se, port=8000)`;
    the test expects False, which the issue states in prose."""
    test = (
        "from flags import Flags\n\n\ndef test_false_words():\n"
        '    assert Flags.from_env({"DEBUG": "false"}) == Flags(debug=False)\n'
        '    assert Flags.from_env({"DEBUG": "no"}) == Flags(debug=False)\n'
    )
    faithful, reason = judged(tmp_path, "flags", FLAGS, test, FLAGS_ISSUE)
    assert faithful, reason
    assert "expecting False as the issue says" in reason


def test_a_test_that_makes_none_of_the_issue_s_calls_is_refused(tmp_path: Path) -> None:
    """The issue's example is a Friday; a test of another day, however right, does not reproduce
    what the issue reports (and a test of the model's own scenario is where wrong ones came from)."""
    test = (
        "from datetime import date\nfrom calendar_days import next_workday\n\n\n"
        "def test_saturday():\n    assert next_workday(date(2024, 5, 4)) == date(2024, 5, 6)\n"
    )
    faithful, reason = judged(tmp_path, "calendar_days", CALENDAR, test, WORKDAY_ISSUE)
    assert not faithful
    assert reason.startswith("it does not make the call the issue gives (`next_workday(date(2024,5,3))`)")


def test_a_test_that_asserts_what_the_issue_says_is_wrong_is_refused(tmp_path: Path) -> None:
    """Its first assertion holds on the code as it is: it gives the issue's call the result the
    issue reports as the bug (Saturday); the one that fails after it is right, the test is not."""
    test = (
        "from datetime import date\nfrom calendar_days import next_workday\n\n\n"
        "def test_friday():\n    assert next_workday(date(2024, 5, 3)) == date(2024, 5, 4)\n"
        "    assert next_workday(date(2024, 5, 3)).weekday() == 0\n"
    )
    faithful, reason = judged(tmp_path, "calendar_days", CALENDAR, test, WORKDAY_ISSUE)
    assert not faithful
    assert reason.startswith("it asserts `next_workday(date(2024, 5, 3)) == date(2024, 5, 4)`, the result")


RATES = '''_seen = {}


def convert(amount, to="EUR"):
    """Converts with a cache keyed on the positional arguments only (the bug)."""
    key = (amount,)
    if key not in _seen:
        _seen[key] = amount * {"EUR": 0.9, "GBP": 0.8}[to]
    return _seen[key]
'''
RATES_ISSUE = (
    "`convert(100, to='EUR')` returns 90.0, but a following `convert(100, to='GBP')` also returns "
    "90.0; expected 80.0."
)


def test_a_call_the_issue_sets_the_scene_with_is_not_the_bug(tmp_path: Path) -> None:
    """90.0 is what the issue says the first call returns, and right: nothing in its passage says
    otherwise. The second call's 90.0 is the bug (80.0 expected)."""
    test = (
        "from rates import convert\n\n\ndef test_keyword_currency():\n"
        "    assert convert(100, to='EUR') == 90.0\n    assert convert(100, to='GBP') == 80.0\n"
    )
    faithful, reason = judged(tmp_path, "rates", RATES, test, RATES_ISSUE)
    assert faithful, reason
    wrong = test.replace("== 80.0", "== 90.0") + "    assert False\n"
    faithful, reason = judged(tmp_path, "rates", RATES, wrong, RATES_ISSUE)
    assert not faithful and reason.startswith("it asserts `convert(100, to='GBP') == 90.0`")
