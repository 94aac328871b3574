"""The issue's own examples, and the tests that failed before any change because of them.

An issue that says `add_business_days(date(2024, 5, 3), 1)` returns the wrong day gives a call
with literal arguments. A test that makes that very call checks the issue's example: when it
failed before the change and still fails after it, the issue is not fixed, whatever other test
the change made pass (a Friday that stopped being a business day fixed one of the issue's two
tests and left the other, `business_days_between(date(2024, 5, 3), date(2024, 5, 10))`, failing).

Tests that fail for reasons of their own (the environment, another bug) share no such call with
the issue: they are reported, never held against a change. Only calls with a literal among their
arguments count: `parse(content)` or `doc.as_string()` name the library's API that every test
uses, and say nothing about which test is about the issue; nor do builtins (`int("3")`). Calls are
compared without their module, with one kind of quote and no spaces but between two words:
`tomlkit.parse("a = -1")` in the issue is the call `parse('a = -1')` in a test.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path

from agent.loop.suite_source import sources_of_tests

_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*)([A-Za-z_]\w*)\(")
_LITERAL = re.compile(r"\d|['\"]")
_BUILTINS = frozenset(dir(builtins))
_SPACE = re.compile(r"\s+")
MAX_ARGUMENTS = 240  # characters of one call's arguments: longer is a code block, not an example


def normalised(code: str) -> str:
    """`code` with one kind of quote and no whitespace but one space between two words (`assert f`),
    so a call matches however it is spaced."""
    return _SPACE.sub(_space, code).replace('"', "'")


def _space(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    between_words = start > 0 and end < len(text) and _word(text[start - 1]) and _word(text[end])
    return " " if between_words else ""


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def example_calls(issue: str) -> list[str]:
    """The calls in the issue with a literal among their arguments, outermost only, normalised
    (`name(args)`, the name without its module or object)."""
    return list(dict.fromkeys(call for call, _, _ in example_call_spans(issue)))


def example_call_spans(issue: str) -> list[tuple[str, int, int]]:
    """Each of the issue's example calls (normalised, as `example_calls`) with where it starts in
    the issue and the index just after its closing parenthesis, in the order written."""
    calls: list[tuple[str, int, int]] = []
    end = 0
    for match in _CALL.finditer(issue):
        if match.start() < end:  # inside a call taken already
            continue
        close = _closing(issue, match.end())
        if close is None:
            continue
        name, arguments = match.group(2), issue[match.end() : close]
        builtin = name in _BUILTINS and not match.group(1)  # `format(...)`, not `sqlparse.format(...)`
        if builtin or not _LITERAL.search(arguments) or len(arguments) > MAX_ARGUMENTS:
            continue
        end = close
        calls.append((f"{name}({normalised(arguments)})", match.start(), close + 1))
    return calls


def _closing(text: str, start: int) -> int | None:
    """The index of the parenthesis that closes the one just before `start`; None when unclosed."""
    depth = 1
    for index in range(start, min(len(text), start + MAX_ARGUMENTS + 1)):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        elif char == "\n" and text[index + 1 : index + 2] == "\n":  # a paragraph ends
            return None
    return None


def makes_call(source: str, calls: list[str]) -> bool:
    """`source` (a test's) makes one of the normalised `calls`, as a call of its own name (not a
    longer name ending in it)."""
    code = normalised(source)
    for call in calls:
        start = code.find(call)
        while start != -1:
            if start == 0 or not _word(code[start - 1]):
                return True
            start = code.find(call, start + 1)
    return False


def example_tests(root: Path, tests: list[str], issue: str) -> list[str]:
    """Those of `tests` (pytest node ids, as the tree under `root` has them now) whose source makes
    one of the issue's example calls. A file-level entry (a collection error) or a command with no
    test names is never one: what fails there fails before any test runs."""
    calls = example_calls(issue)
    if not calls:
        return []
    sources = sources_of_tests(root, tests)
    return [test for test in tests if test in sources and makes_call(sources[test], calls)]
