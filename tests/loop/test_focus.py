"""The context packed again for the failing tests (agent/loop/focus.py): on real pytest output,
and in a real run, where the helper the traceback runs through is not named by the issue."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from agent.context import build_pack
from agent.context.issue import Frame, parse_issue
from agent.engines.scripted import ScriptedTurn
from agent.events import Notice, ToolFinished
from agent.loop.focus import failure_text, focused
from agent.loop.reproduce import ReproBrief
from tests.recording import RecordingEngine
from tests.repos import BUGGY_MEDIAN, MEDIAN_TESTS, make_repo
from tests.scripts import run_fix

ISSUE = "cart_total raises an error for a cart whose item has no discount; it should total the cart."

CART = textwrap.dedent(
    """\
    from shop.pricing import RULES


    def cart_total(cart):
        \"\"\"The cart's total in cents.\"\"\"
        return sum(RULES[item.get("rule", "plain")](item) for item in cart)
    """
)
PLAIN = textwrap.dedent(
    """\
    def plain(entry):
        return round(entry["price"] * (1 - entry["discount"]) * 100)
    """
)
# the helper with the bug, reached through a table, among functions whose words match the issue's
PRICING = (
    "".join(
        f'def item_discount_{i}(item):\n    """The total of a cart item with discount {i}; an error without '
        f'one."""\n    return round(item["price"] * {100 - i})\n\n\n'
        for i in range(12)
    )
    + PLAIN
    + "\n\nRULES = {"
    + ", ".join(f'"d{i}": item_discount_{i}' for i in range(12))
    + ', "plain": plain}\n'
)
TESTS = textwrap.dedent(
    """\
    from shop.cart import cart_total


    def test_total_without_discount():
        assert cart_total([{"price": 2.5}]) == 250
    """
)


def cart_module(k: int) -> str:
    """A module whose words match the issue's (cart, total, item, error) and hold no bug."""
    functions = [
        f'def cart_{k}_item_total_{i}(cart, item):\n    """Total of the cart item {i}; an error '
        f'if the cart has no item."""\n    if not cart:\n        raise ValueError("empty cart")\n'
        f"    return sum(item for item in cart) + {i}\n\n\n"
        for i in range(6)
    ]
    return "".join(functions)


def shop_repo(root: Path) -> Path:
    files = {"shop/__init__.py": "", "shop/cart.py": CART, "shop/pricing.py": PRICING}
    files |= {f"shop/carts_{k}.py": cart_module(k) for k in range(6)}
    files["tests/test_cart.py"] = TESTS
    return make_repo(root, files)


def pytest_output(root: Path) -> str:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--tb=short"]
    run = subprocess.run(command, cwd=root, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout
    return run.stdout


def test_the_failure_sections_keep_the_frames_down_to_the_helper(tmp_path: Path) -> None:
    output = pytest_output(shop_repo(tmp_path / "shop"))
    text = failure_text(output)
    assert text.lstrip("=").startswith(" FAILURES ")
    assert "test session starts" not in text  # the header is not about the bug
    frames = parse_issue(text).frames
    assert Frame("shop/pricing.py", 62, "plain") in frames
    assert Frame("shop/cart.py", 6, "cart_total") in frames
    assert "KeyError" in text
    short = failure_text(output, limit=300)
    assert len(short) <= 400 and "FAILURES" in short  # cut from the start: the first failure's frames


def test_output_without_failure_sections_gives_its_end() -> None:
    output = "npm test\n" + "\n".join(f"line {i}" for i in range(2000)) + "\n1 failing: totals\n"
    text = failure_text(output, limit=200)
    assert text.endswith("1 failing: totals") and "line 0\n" not in text


def test_the_context_is_packed_again_only_for_failures_about_the_issue() -> None:
    asked: list[str] = []

    def focus(failures: str) -> str:
        asked.append(failures)
        return "focused"

    output = (
        "==== FAILURES ====\nshop/cart.py:6: in cart_total\nshop/pricing.py:62: in plain\nE   TypeError\n"
    )
    failing: dict[str, Any] = {"ok": False, "passed": 3, "failed": 1, "output": output}
    failing["failing"] = ["tests/test_cart.py::test_total_without_discount"]
    about = ReproBrief(path="tests/test_issue.py", names=["cart_total"])
    elsewhere = ReproBrief(path="tests/test_issue.py", names=["parse_coupon"])
    assert focused("first", focus, failing, about) == "focused"  # its frames run through cart_total
    assert asked == [failure_text(output)]
    assert focused("first", focus, failing, None) == "focused"  # no names: every failure counts
    assert focused("first", focus, failing, elsewhere) == "first"  # failures about something else
    named = {**failing, "failing": ["tests/test_coupons.py::test_parse_coupon_rejects_blank"]}
    assert focused("first", focus, named, elsewhere) == "focused"  # the test's name says it is
    assert focused("first", focus, {"ok": True, "passed": 4, "output": "4 passed"}, about) == "first"
    assert focused("first", focus, {"no_tests": True, "ok": False, "output": ""}, about) == "first"
    assert focused("first", None, failing, about) == "first"
    assert len(asked) == 3


def test_a_run_shows_the_model_the_helper_its_failing_test_runs_through(tmp_path: Path) -> None:
    repo = shop_repo(tmp_path / "shop")
    budget = 700
    engine = RecordingEngine([ScriptedTurn(text="Reading.")])
    first = build_pack(repo, ISSUE, budget, lambda text: len(text) // 4)  # as the scripted engine counts
    assert "def cart_total" in first.text and "def plain" not in first.text  # the words miss it
    report, events = run_fix(repo, engine, ISSUE, context_budget=budget, max_steps=1, plan=False)
    said = [e.message for e in events if isinstance(e, Notice)]
    assert any("packed again for the failing tests" in s for s in said), said
    prompt = engine.conversations[0][1].content
    assert "def plain(entry):" in prompt and "def cart_total" in prompt
    assert report.status != "resolved"


def test_a_repository_packed_whole_is_not_packed_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "median", {"stats.py": BUGGY_MEDIAN, "test_stats.py": MEDIAN_TESTS})
    report, events = run_fix(repo, RecordingEngine([ScriptedTurn(text="Reading.")]), max_steps=1, plan=False)
    said = [e.message for e in events if isinstance(e, Notice)]
    assert any("repository context:" in s and "0 left out" in s for s in said), said
    baseline = next(e for e in events if isinstance(e, ToolFinished) and e.call_id == "baseline")
    assert not baseline.ok and report.status != "resolved"  # the tests did fail before any change
    assert not any("packed again" in s for s in said)
