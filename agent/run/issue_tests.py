"""Which of the tests that failed before any change are about the issue.

`resolved` needs a test that failed before to pass after the change, and tests that already failed
before and still fail are reported, never held against it: real repositories hold tests that fail
in a given environment for reasons of their own. But a test that fails *because of the bug* and
still fails says the issue is not fixed, whatever other test the change made pass (a Friday that
stopped being a business day fixed one of the issue's two tests and left the other failing).

A failing test is about the issue when its node id, or its own failure section in the run before
any change (pytest's `____ test_name ____` block: the lines of the test it shows, its frames, the
error), names code the issue names that the repository defines outside its tests. Names the
repository does not define (`date`, `len`, a stdlib class) say nothing: every test uses them.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent.context.index import load_index
from agent.context.issue import parse_issue

_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)  # pytest: `_____ test_x _____`, `___ TestA.test_b ___`
MIN_NAME = 3


def failure_sections(output: str) -> dict[str, str]:
    """pytest's failure sections of a run's output, by their title (`test_x[1]`, `TestA.test_b`,
    `ERROR collecting tests/test_c.py`)."""
    headers = list(_HEADER.finditer(output))
    sections: dict[str, str] = {}
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following is not None else len(output)
        sections[header.group(1).strip()] = output[header.end() : end]
    return sections


def section_title(test_id: str) -> str:
    """The title pytest gives a test's failure section: `a.py::TestA::test_b[1]` -> `TestA.test_b[1]`."""
    return ".".join(test_id.split("::")[1:]) or test_id


def about_the_issue(tests: list[str], baseline_output: str, names: set[str]) -> list[str]:
    """Those of `tests` whose id or failure section (in the run before any change) names one of
    `names` as a word."""
    if not names:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
    sections = failure_sections(baseline_output)
    return [t for t in tests if pattern.search(t) or pattern.search(sections.get(section_title(t), ""))]


def defined_issue_names(task: str, root: Path, cache: Path | None) -> set[str]:
    """The code names the issue mentions that the repository defines outside its tests (its
    index, parses cached in `cache`)."""
    wanted = {name for name in parse_issue(task).identifiers if len(name) >= MIN_NAME}
    if not wanted:
        return set()
    index = load_index(root, cache)
    return {
        name for name in wanted if any(not index.files[fi].test for fi, _ in index.definitions.get(name, []))
    }
