"""What edited lines read that is set on other lines: the next place to look when edits to the
lines themselves changed nothing."""

from __future__ import annotations

from agent.loop.set_elsewhere import changed_lines, set_elsewhere

DURATION = """import re

_UNITS = {"h": 3600, "m": 60}
_PART = re.compile(r"(\\d+)([hm])")


def parse_duration(text: str) -> int:
    return sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))


def other(text):
    _UNITS = {}
    return _UNITS
"""

CACHE = """from collections import OrderedDict


def _limit(capacity):
    return max(capacity, 1)


class Cache:
    def __init__(self, capacity):
        self.capacity = _limit(capacity)
        self._data = OrderedDict()

    def put(self, key, value):
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def get(self, key):
        total = 0
        return self._data[key]
"""


def test_module_constants_a_line_reads_are_named_and_another_functions_locals_are_not() -> None:
    assert set_elsewhere(DURATION, {8}) == [
        (3, '_UNITS = {"h": 3600, "m": 60}'),
        (4, '_PART = re.compile(r"(\\d+)([hm])")'),
    ]


def test_attributes_set_in_other_methods_and_helpers_called_are_named() -> None:
    found = set_elsewhere(CACHE, {15, 16})  # a store into the dict writes it too
    assert found == [
        (10, "self.capacity = _limit(capacity)"),
        (11, "self._data = OrderedDict()"),
        (14, "self._data[key] = value"),
    ]
    assert set_elsewhere(CACHE, {10}) == [(4, "def _limit(capacity):")]


def test_lines_an_edit_covers_itself_and_unparsable_sources_give_nothing() -> None:
    assert set_elsewhere(DURATION, {3, 4, 8}) == []
    assert set_elsewhere("def broken(:\n    return x\n", {2}) == []
    assert set_elsewhere(DURATION, set()) == []


def test_changed_lines_count_replaced_deleted_and_inserted_lines_of_the_old_text() -> None:
    before = "a\nb\nc\nd\n"
    assert changed_lines(before, "a\nB\nc\nd\n") == {2}
    assert changed_lines(before, "a\nc\nd\n") == {2}
    assert changed_lines(before, "a\nb\nnew\nc\nd\n") == {3}
    assert changed_lines(before, before) == set()
