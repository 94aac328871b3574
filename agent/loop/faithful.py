"""Is a reproduction test faithful to the issue? Judged from how it fails on the code before any fix.

A test written from an issue's text shows the bug only when it fails *for the reason the issue
states*: an assertion on the values the user gave (`assert 3 == 2.5`, with 2.5 or 3 in the issue),
`pytest.raises` of the exception the issue says is missing, or the very exception the issue reports.
A test that does not import, has a typo, asks for a fixture that does not exist, passes, or fails on
an exception the issue never mentions says nothing about the bug: it is refused, with the reason,
so the next draft can be better.

An assertion is judged by what it expects: the expected side of the failing `assert actual ==
expected`, read from the test's source at the line pytest names, must hold a value the issue
states that is not one of the call's inputs (a guess for an input of the model's own, or the
input handed back, is not one). A test must make a call the issue gives, when it gives one, and no
assertion of it may give such a call the result the issue says it returns now (that asserts the
bug: `index_of([1, 3, 5], 1) == -1` when the issue says it "is -1 too (expected 0)"). Checked
against the tasks' fixed code on 99 reproduction drafts of the dev runs: of the 29 that fail
before the fix and pass after it, 27 are kept (the old judgement, by any value the failure shows:
22), and 3 that do not pass after it are kept (11 before); on the 33 of them the rules were not
written on, 3 of 4 true ones and 2 wrong ones kept (old: 3 and 7). (SWT-bench measures
issue-derived tests the same way: fail before the fix, pass after it; the second half is the
repair phase's to show.)
"""

from __future__ import annotations

import ast
import re
from typing import Any, NamedTuple

from agent.loop.issue_examples import example_call_spans, example_calls, makes_call, normalised
from agent.loop.suite_runs import counted

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]*\w)")
_QUOTED = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"")
_BACKTICKS = re.compile(r"`([^`\n]+)`")
_EXCEPTION_LINE = re.compile(r"^E\s+([A-Za-z_][\w.]*):")
_ERROR_NAME = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Warning|Exit))\b")
_WHOLE = r"(?<![\w.]){}(?![\w(])"  # an expression written whole, not part of a longer one
# where an issue turns from what a call returns to what it should return, or its sentence ends
_TURN = re.compile(
    r"\b(?:expect\w*|should|instead|must|but|not|rather|whereas|although|though|while|yet|correct\w*)\b"
    r"|[.;:]\s|\n"
)
_LOCATION = re.compile(r"^(\S+\.py):(\d+): in \w+", re.M)  # a traceback frame, --tb=short
_DID_NOT_RAISE = re.compile(r"DID NOT RAISE\s*<class '([\w.]+)'>")
PASSES = "the test passes on the code as it is, so it does not show the bug"
TRIVIAL = frozenset({"0", "1", "-1", "True", "False", "None", ""})
# failures that say the test itself is broken, unless the issue reports exactly that
BROKEN_TEST = frozenset(
    {"NameError", "ImportError", "ModuleNotFoundError", "SyntaxError", "IndentationError", "fixture"}
)


class Judgement(NamedTuple):
    faithful: bool
    reason: str  # why (kept, or told to the model to write a better test)
    failing: list[str]  # the test node ids that fail faithfully


def values(text: str) -> set[str]:
    """The literal values written in prose or code: numbers (normalised: 2.50 is 2.5), quoted
    strings, and the constants of backticked code."""
    found = {_number(n) for n in _NUMBER.findall(text)}
    found |= {a or b for a, b in _QUOTED.findall(text)}
    for span in _BACKTICKS.findall(text):
        found |= code_values(span)
    return {v for v in found if v not in TRIVIAL}


def code_values(code: str) -> set[str]:
    """The constants of a piece of Python code (numbers normalised), or its words when it does not parse."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return {code.strip()}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
            found.add(_number(str(node.value)) if not isinstance(node.value, str) else node.value)
        elif (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
        ):
            found.add(_number(f"-{node.operand.value}"))
    return {v for v in found if v not in TRIVIAL}


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def judge_run(data: dict[str, Any], code: str, issue: str) -> Judgement:
    """How a reproduction test run (its file alone, on the code before any change) bears on the issue."""
    output = str(data.get("output", ""))
    failed, errors = int(data.get("failed") or 0), int(data.get("errors") or 0)
    if data.get("timed_out"):
        return Judgement(False, "the test did not finish in time", [])
    if not counted(data) and not errors:
        return Judgement(False, "pytest collected no test from the file (name the functions test_...)", [])
    if errors and not failed:
        return Judgement(False, f"the test does not run: {_first_error(output)}", [])
    if not failed:
        return Judgement(False, PASSES, [])
    failing = [str(t) for t in data.get("failing", []) if "::" in str(t)]
    calls = subject_calls(example_calls(issue))
    if calls and not makes_call(code, calls):
        return Judgement(
            False,
            f"it does not make the call the issue gives ({_listed_calls(calls)}): test the issue's own "
            "example, with its exact values",
            [],
        )
    bug = _asserts_the_bug(code, issue)
    if bug:
        return Judgement(
            False,
            f"it asserts `{bug}`, the result the issue says is wrong; assert what the issue expects instead",
            [],
        )
    kind, detail = _failure_kind(output)
    if kind == "assert":
        return _judge_assertion(detail, _failing_assert(output, code, failing), code, issue, failing)
    issue_errors = set(_ERROR_NAME.findall(issue))
    if kind == "not_raised":
        if detail.rsplit(".", 1)[-1] in issue_errors or "raise" in issue.lower():
            return Judgement(True, f"it fails because {detail} is not raised, as the issue says", failing)
        return Judgement(False, f"it expects {detail}, which the issue does not mention", [])
    name = detail.rsplit(".", 1)[-1]
    if name in issue_errors:
        return Judgement(True, f"it fails with {name}, the error the issue reports", failing)
    if name in BROKEN_TEST or "fixture" in output:
        return Judgement(False, f"the test itself is broken: {_first_error(output)}", [])
    return Judgement(
        False, f"it fails with {name}, which the issue does not report: {_first_error(output)}", []
    )


def _judge_assertion(
    detail: str, node: ast.Assert | None, code: str, issue: str, failing: list[str]
) -> Judgement:
    """A failing assertion (`detail`, its line in pytest's output; `node`, its statement): by what
    its expected side holds, else by any value the failure shows."""
    expects = _expected_stated(node, issue)
    if expects:
        return Judgement(
            True, f"it fails on `{detail}`, expecting {_listed(expects)} as the issue says", failing
        )
    if expects is not None:
        return Judgement(
            False,
            f"it fails on `{detail}`, but the value it expects is not one the issue states; "
            "assert the result the issue expects for its own example, with its exact values",
            [],
        )
    shown = code_values(detail) or values(detail)
    wanted = (shown or code_values(code)) & values(issue)
    if wanted:
        return Judgement(True, f"it fails on `{detail}`, with {_listed(wanted)} from the issue", failing)
    return Judgement(
        False,
        f"it fails on `{detail}`, but none of those values is one the issue gives; "
        "assert the result the issue expects, with its exact values",
        [],
    )


def stated(issue: str) -> set[str]:
    """The values the issue states, with 0, 1, -1, True, False and None when it writes them."""
    found = values(issue)
    found |= {_number(n) for n in _NUMBER.findall(issue) if _number(n) in TRIVIAL}
    found |= {word for word in ("True", "False", "None") if re.search(rf"\b{word}\b", issue)}
    return found


def _failing_assert(output: str, code: str, failing: list[str]) -> ast.Assert | None:
    """The assert statement the first failure stopped on, found in the test's source at the line
    pytest's traceback names for the test file."""
    paths = {test.split("::", 1)[0] for test in failing}
    lines = [int(line) for path, line in _LOCATION.findall(output) if path in paths]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and lines and node.lineno <= lines[0] <= (node.end_lineno or 0):
            return node
    return None


def _expected_stated(node: ast.Assert | None, issue: str) -> set[str] | None:
    """What a failing `assert actual == expected` (or `is`) expects that the issue states; empty
    when nothing. The expected side's constants that are not among the actual side's (its inputs)
    count, numbers only when there are any (`{'vat': 0.125}` does not expect 'vat'); with none of
    its own, the expected expression itself must be written in the issue (`date(2024, 5, 5)` is
    not, when the issue gives `date(2024, 5, 6)`). None when the assertion is no such comparison
    with constants to go by (`assert result == expected`, `assert ok`). The actual side is the one
    that calls a function of the issue's examples, else the left one, as pytest writes it."""
    sides = _equality(node) if node is not None else None
    if sides is None:
        return None
    actual, expected = sides
    callees = {call.split("(", 1)[0] for call in example_calls(issue)}
    if _calls(expected) & callees and not _calls(actual) & callees:
        actual, expected = expected, actual
    wanted = _constants(expected)
    if not wanted:
        return None
    fresh, given = wanted - _constants(actual), stated(issue)
    numbers = {value for value in fresh if _is_number(value)}
    if fresh:
        return (numbers or fresh) & given
    written = normalised(ast.unparse(expected))
    issue_text = normalised(issue).replace(normalised(ast.unparse(actual)), " ")  # not as its input
    if written in given or re.search(_WHOLE.format(re.escape(written)), issue_text):
        return {written}
    return set()


def _equality(node: ast.Assert) -> tuple[ast.expr, ast.expr] | None:
    """(left, right) of `assert left == right` (or `is`); None for any other assertion."""
    test = node.test
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return None
    return (test.left, test.comparators[0]) if isinstance(test.ops[0], ast.Eq | ast.Is) else None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _constants(node: ast.AST) -> set[str]:
    """Every constant of an expression, 0, 1, True and None too (numbers normalised)."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and child.value is not Ellipsis:
            value = child.value
            found.add(value if isinstance(value, str) else _number(str(value)))
        elif isinstance(child, ast.UnaryOp) and isinstance(child.op, ast.USub):
            inner = child.operand
            if isinstance(inner, ast.Constant) and isinstance(inner.value, int | float):
                found.add(_number(f"-{inner.value}"))
    return found


def _calls(node: ast.AST) -> set[str]:
    """The names called in an expression (`obj.method(...)` is `method`)."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def _failure_kind(output: str) -> tuple[str, str]:
    """("assert", the assertion line) | ("not_raised", exception) | ("error", exception name)."""
    for line in output.splitlines():
        if not line.startswith("E "):
            continue
        text = line[1:].strip()
        raised = _DID_NOT_RAISE.search(text)
        if raised:
            return "not_raised", raised.group(1)
        if text.startswith("assert ") or text.startswith("AssertionError"):
            return "assert", text.removeprefix("AssertionError:").strip()
        match = _EXCEPTION_LINE.match(line)
        if match:
            return "error", match.group(1)
    return "error", "an error"


def _first_error(output: str) -> str:
    lines = [line[1:].strip() for line in output.splitlines() if line.startswith("E ")]
    if lines:
        return lines[0][:200]
    tail = [line for line in output.strip().splitlines() if line.strip()]
    return tail[-1][:200] if tail else "no output"


def _asserts_the_bug(code: str, issue: str) -> str:
    """An assertion of the test that gives one of the issue's example calls the result the issue
    says that call returns now (`assert week_label(date(2021, 1, 3)) == '2021-W53'` when the issue
    says "`week_label(date(2021, 1, 3))` returns '2021-W53', but that Sunday belongs to ISO week
    '2020-W53'"): its source, or "". What the issue says a call returns is read from just after the
    call, up to the first word that turns to what it should return (expected, should, instead, but,
    not, ...) or the end of the sentence, and counts only when the passage then states another
    value before the next call ("`convert(100, to='EUR')` returns 90.0, but a following ..." sets
    the scene: 90.0 is right there)."""
    said = _said_to_return(issue)
    if not said:
        return ""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert) or (sides := _equality(node)) is None:
            continue
        for call_side, value_side in (sides, sides[::-1]):
            source = ast.unparse(call_side)
            wrong = {value for call, found in said.items() if makes_call(source, [call]) for value in found}
            if wrong and _expression(value_side) in wrong:
                return ast.unparse(node.test)
    return ""


def _said_to_return(issue: str) -> dict[str, set[str]]:
    """The values the issue says each of its example calls returns now (see `_asserts_the_bug`)."""
    said: dict[str, set[str]] = {}
    subjects = set(subject_calls(example_calls(issue)))
    spans = [span for span in example_call_spans(issue) if span[0] in subjects]  # values are not cuts
    for index, (call, _, end) in enumerate(spans):
        until = spans[index + 1][1] if index + 1 < len(spans) else len(issue)
        passage = _turned(issue[end : min(until, end + 400)].lstrip("`"))
        found = _expressions(passage[0])
        if found and len(passage) > 1 and _expressions(passage[1]) - found:  # then what it should be
            said.setdefault(call, set()).update(found)
    return said


def _turned(text: str) -> list[str]:
    """`text` split where it first turns (`_TURN`), never inside backticked code."""
    spans = _BACKTICKS.findall(text)
    masked = _BACKTICKS.sub(lambda match: f"`{len(match.string[: match.start()].split('`')) // 2}`", text)
    parts = _TURN.split(masked, maxsplit=1)
    return [re.sub(r"`(\d+)`", lambda match: f"`{spans[int(match.group(1))]}`", part) for part in parts]


def _expressions(text: str) -> set[str]:
    """The values written whole in prose, each as `_expression` writes it: backticked code, quoted
    strings, numbers (not those inside the first two), True, False and None."""
    found = {normalised(span) for span in _BACKTICKS.findall(text)}
    text = _BACKTICKS.sub(" ", text)
    found |= {normalised(quoted.group(0)) for quoted in _QUOTED.finditer(text)}
    text = _QUOTED.sub(" ", text)
    found |= {_number(n) for n in _NUMBER.findall(text)}
    found |= {word for word in ("True", "False", "None") if re.search(rf"\b{word}\b", text)}
    return found


def _expression(node: ast.expr) -> str:
    """A value of the test as `_expressions` writes one from prose."""
    source = ast.unparse(node)
    return _number(source) if _is_number(source) else normalised(source)


def subject_calls(calls: list[str]) -> list[str]:
    """The issue's example calls, but for those of a name it also writes inside another one's
    arguments (`date(2024, 5, 6)` when it gives `next_workday(date(2024, 5, 3))`): values, not
    what the issue is about."""
    names = {call: call.split("(", 1)[0] for call in calls}
    inside = {
        name
        for name in names.values()
        for other in calls
        if re.search(rf"(?<![\w.]){re.escape(name)}\(", other.split("(", 1)[1])
    }
    return [call for call in calls if names[call] not in inside] or calls


def _listed_calls(calls: list[str]) -> str:
    return ", ".join(f"`{call}`" for call in calls[:2])


def _listed(found: set[str]) -> str:
    return ", ".join(sorted(found, key=len)[:3])
