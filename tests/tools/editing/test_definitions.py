"""Merging a block of fixed definitions into a file by name (tools/editing/definitions.py)."""

from __future__ import annotations

import ast
import textwrap

from tools.editing.definitions import merge_code, merge_python, whole_file

DURATION = '''import re

_UNITS = {"h": 3600, "m": 60}
_PART = re.compile(r"(\\d+)([hm])")


def parse_duration(text: str) -> int:
    """'1h30m' -> 5400 seconds."""
    return sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))


def format_duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"
'''

LRU = """from collections import OrderedDict
from typing import Any, Hashable


class LRUCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        return self._data.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
"""


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_constants_are_replaced_by_name_and_the_rest_stays_byte_for_byte() -> None:
    block = _d("""
        _UNITS = {"h": 3600, "m": 60, "s": 1}
        _PART = re.compile(r"(\\d+)([hms])")
        """)
    merged = merge_python(DURATION, block)
    assert merged is not None and merged.replaced == ["_UNITS", "_PART"] and not merged.added
    expected = DURATION.replace('"m": 60}', '"m": 60, "s": 1}').replace("([hm])", "([hms])")
    assert merged.text == expected


def test_a_function_is_replaced_with_its_docstring_and_the_example_calls_are_left_out() -> None:
    block = _d('''
        def parse_duration(text: str) -> int:
            """'1h30m' -> 5400 seconds."""
            return sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.lower()))

        print(parse_duration("90s"))
        if __name__ == "__main__":
            parse_duration("1h")
        ''')
    merged = merge_python(DURATION, block)
    assert merged is not None and merged.replaced == ["parse_duration"]
    assert "text.lower()" in merged.text and "print(" not in merged.text and "__main__" not in merged.text
    assert merged.text.count("def ") == 2


def test_a_method_written_without_its_class_is_reindented_into_it() -> None:
    block = _d("""
        def get(self, key: Hashable, default: Any = None) -> Any:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]
        """)
    merged = merge_python(LRU, block)
    assert merged is not None and merged.replaced == ["LRUCache.get"]
    assert (
        "    def get(self, key: Hashable, default: Any = None) -> Any:\n        if key not in" in merged.text
    )
    assert "            return default\n" in merged.text
    ast.parse(merged.text)


def test_an_indented_method_block_is_taken_as_it_is_meant() -> None:
    block = "    def __len__(self) -> int:\n        return len(self._data) + 0\n"
    merged = merge_python(LRU, block)
    assert merged is not None and "        return len(self._data) + 0\n" in merged.text


def test_a_class_is_merged_member_by_member_keeping_the_others_and_adding_new_ones() -> None:
    block = _d("""
        class LRUCache:
            def get(self, key, default=None):
                if key in self._data:
                    self._data.move_to_end(key)
                return self._data.get(key, default)

            def clear(self) -> None:
                self._data.clear()
        """)
    merged = merge_python(LRU, block)
    assert merged is not None
    assert merged.replaced == ["LRUCache.get"] and merged.added == ["LRUCache.clear"]
    tree = ast.parse(merged.text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert [n.name for n in cls.body if isinstance(n, ast.FunctionDef)] == [
        "__init__",
        "get",
        "put",
        "__len__",
        "clear",
    ]
    assert "self._data.popitem(last=False)" in merged.text  # put untouched


def test_a_whole_file_written_out_replaces_what_changed_only() -> None:
    block = LRU.replace("return self._data.get(key, default)", "return self._data.pop(key, default)")
    merged = merge_python(LRU, block)
    assert merged is not None and merged.text == block
    assert "LRUCache.get" in merged.replaced


def test_new_imports_go_after_the_files_and_new_helpers_before_the_replaced_definition() -> None:
    block = _d('''
        import math


        def _seconds(n: str, unit: str) -> int:
            return int(n) * _UNITS[unit]


        def parse_duration(text: str) -> int:
            """'1h30m' -> 5400 seconds."""
            return math.floor(sum(_seconds(n, u) for n, u in _PART.findall(text)))
        ''')
    merged = merge_python(DURATION, block)
    assert merged is not None
    assert merged.added == ["import math", "_seconds"] and merged.replaced == ["parse_duration"]
    assert merged.text.startswith("import re\nimport math\n")
    assert merged.text.index("def _seconds") < merged.text.index("def parse_duration")
    ast.parse(merged.text)


def test_definitions_that_elide_code_or_are_stubs_are_left_out() -> None:
    block = _d("""
        def get(self, key, default=None):
            # ... rest unchanged
            return None

        def put(self, key, value):
            pass

        def __len__(self) -> int:
            return 0
        """)
    merged = merge_python(LRU, block)
    assert merged is not None and merged.replaced == ["LRUCache.__len__"]
    assert merged.skipped == ["LRUCache.get (it leaves code out)", "LRUCache.put (only a stub)"]
    assert "self._data.popitem(last=False)" in merged.text


def test_a_class_that_only_adds_a_method_belongs_to_the_file() -> None:
    merged = merge_python(LRU, "class LRUCache:\n    def clear(self) -> None:\n        self._data.clear()\n")
    assert merged is not None and merged.added == ["LRUCache.clear"] and not merged.replaced
    assert merged.text.endswith(
        "        return len(self._data)\n\n    def clear(self) -> None:\n        self._data.clear()\n"
    )


def test_nothing_that_belongs_to_the_file_is_no_merge() -> None:
    assert merge_python(DURATION, "def slugify(text):\n    return text\n") is None
    assert merge_python(DURATION, "print('hello')\n") is None
    assert merge_python(DURATION, "def parse_duration(:\n") is None  # does not parse


def test_a_method_two_classes_share_is_not_guessed() -> None:
    source = _d("""
        class A:
            def size(self):
                return 1


        class B:
            def size(self):
                return 2
        """)
    assert merge_python(source, "def size(self):\n    return 3\n") is None
    merged = merge_python(source, "class B:\n    def size(self):\n        return 3\n")
    assert merged is not None and merged.replaced == ["B.size"] and "return 1" in merged.text


def test_a_decorated_definition_is_replaced_with_its_decorators() -> None:
    source = _d("""
        import functools


        @functools.cache
        def twice(x):
            return x + x
        """)
    merged = merge_python(source, "@functools.lru_cache(maxsize=8)\ndef twice(x):\n    return 2 * x\n")
    assert merged is not None
    assert (
        "@functools.cache" not in merged.text and "@functools.lru_cache(maxsize=8)\ndef twice" in merged.text
    )


def test_a_definition_written_as_it_is_counts_as_placed_and_changes_nothing() -> None:
    block = _d("""
        def format_duration(seconds: int) -> str:
            h, rest = divmod(seconds, 3600)
            m, s = divmod(rest, 60)
            return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"
        """)
    merged = merge_python(DURATION, block)
    assert merged is not None and merged.text == DURATION and merged.replaced == ["format_duration"]


def test_other_languages_take_a_whole_file_only() -> None:
    source = "function add(a, b) {\n  return a - b;\n}\n\nmodule.exports = { add };\n"
    fixed = source.replace("a - b", "a + b")
    merged = merge_code("math.js", source, fixed)
    assert merged is not None and merged.text == fixed
    assert merge_code("math.js", source, "return a + b;\n") is None
    assert whole_file(source, "") is None


CACHE_JS = """class Cache {
  constructor(n) {
    this.n = n;
    this.map = new Map();
  }

  get(key) {
    return this.map.get(key);
  }
}

function twice(x) {
  return x * 2;
}

module.exports = { Cache, twice };
"""


def test_javascript_definitions_merge_by_their_tree_sitter_names() -> None:
    block = "class Cache {\n  get(key) {\n    const v = this.map.get(key);\n    return v;\n  }\n}\n"
    merged = merge_code("cache.js", CACHE_JS, block)
    assert merged is not None and merged.replaced == ["Cache.get"]
    assert "    const v = this.map.get(key);\n    return v;\n  }\n}\n" in merged.text
    assert "this.n = n;" in merged.text and "module.exports" in merged.text
    fixed = merge_code("cache.js", CACHE_JS, "function twice(x) {\n  return x + x;\n}\n")
    assert fixed is not None and fixed.replaced == ["twice"] and "return x + x;" in fixed.text
    added = merge_code("cache.js", CACHE_JS, "class Cache {\n  size() {\n    return this.map.size;\n  }\n}\n")
    assert added is not None and added.added == ["Cache.size"]
    assert added.text.index("size()") > added.text.index("get(key)") and "  size() {" in added.text


def test_go_functions_merge_and_a_broken_block_is_refused() -> None:
    source = "package stats\n\nfunc Median(xs []float64) float64 {\n\treturn xs[len(xs)/2]\n}\n"
    block = "func Median(xs []float64) float64 {\n\tn := len(xs)\n\treturn (xs[(n-1)/2] + xs[n/2]) / 2\n}\n"
    merged = merge_code("stats/median.go", source, block)
    assert merged is not None and merged.text == "package stats\n\n" + block
    assert (
        merge_code("stats/median.go", source, "func Median(xs []float64) float64 {\n\treturn (\n}\n") is None
    )
