"""The matching ladder, rung by rung, and its refusals: it finds one place or none, never a wrong one."""

from __future__ import annotations

import pytest

from tools.editing.blocks import Ambiguous, NoMatch, Query
from tools.editing.elision import is_marker, is_strong_marker
from tools.editing.matching import find_block
from tools.editing.reindent import conform

CODE = """class Store:
    def get(self, key):
        if key in self.items:
            return self.items[key]
        return None

    def put(self, key, value):
        self.check(key)
        self.items[key] = value
        self.count += 1
        self.log("put", key)
        return value
""".splitlines()


def q(old: str, new: str, **extra: object) -> Query:
    return Query(old.split("\n"), new.split("\n"), **extra)  # type: ignore[arg-type]


def apply(lines: list[str], query: Query) -> tuple[list[str], str]:
    match = find_block(lines, query)
    return lines[: match.start] + match.lines + lines[match.end :], match.rung


# ---- rung 1: exact ------------------------------------------------------------------------------


def test_exact_block_is_replaced_as_given() -> None:
    result, rung = apply(CODE, q("        return None", "        raise KeyError(key)"))
    assert rung == "exact" and result[4] == "        raise KeyError(key)" and len(result) == len(CODE)


def test_two_exact_places_are_refused_with_both_shown() -> None:
    lines = ["def a():", "    return 1", "", "def b():", "    return 1"]
    with pytest.raises(Ambiguous) as refused:
        find_block(lines, q("    return 1", "    return 2"))
    message = str(refused.value)
    assert "matches 2 places" in message and "lines 2-2, 5-5" in message
    assert "2|     return 1" in message and "5|     return 1" in message


def test_a_hunk_header_naming_one_of_two_places_picks_it() -> None:
    lines = ["def a():", "    return 1", "", "def b():", "    return 1"]
    match = find_block(lines, q("    return 1", "    return 2", hint=4))
    assert (match.start, match.lines) == (4, ["    return 2"])
    with pytest.raises(Ambiguous):  # a stale header names neither
        find_block(lines, q("    return 1", "    return 2", hint=2))
    assert find_block(lines, q("    return 1", "    return 2", after=2)).start == 4  # patch order


# ---- rung 2: whitespace and indentation ---------------------------------------------------------


def test_shifted_block_is_found_and_the_replacement_reindented() -> None:
    old = "if key in self.items:\n    return self.items[key]"
    new = (
        "if key in self.items:\n    return self.items[key]\nif self.parent:\n    return self.parent.get(key)"
    )
    result, rung = apply(CODE, q(old, new))
    assert rung == "whitespace"
    assert result[2:6] == [
        "        if key in self.items:",
        "            return self.items[key]",
        "        if self.parent:",
        "            return self.parent.get(key)",
    ]


def test_tabs_and_two_space_indentation_map_onto_the_files_four_spaces() -> None:
    tabbed = "\tdef get(self, key):\n\t\tif key in self.items:\n\t\t\treturn self.items[key]"
    result, _ = apply(CODE, q(tabbed, tabbed.replace("items[key]", "items.get(key)")))
    assert result[1:4] == [*CODE[1:3], "            return self.items.get(key)"]
    two = "  def get(self, key):\n    if key in self.items:\n      return self.items[key]"
    result, _ = apply(CODE, q(two, two + "\n    pass"))
    assert result[4] == "        pass"  # 2-space steps scaled to 4


def test_trailing_whitespace_in_context_does_not_leak_into_the_file() -> None:
    old = "        self.check(key)   \n        self.items[key] = value"
    new = "        self.check(key)   \n        self.items[key] = value  # stored"
    result, rung = apply(CODE, q(old, new))
    assert rung == "whitespace" and result[7] == "        self.check(key)"
    assert result[8] == "        self.items[key] = value  # stored"


def test_a_block_whose_inner_indentation_differs_is_not_matched() -> None:
    with pytest.raises(NoMatch):  # "return" is not inside the "if" in the model's text
        find_block(CODE, q("if key in self.items:\nreturn self.items[key]", "x"))


def test_the_same_lines_at_two_indentations_are_ambiguous() -> None:
    lines = ["def f():", "    x = 1", "    if y:", "        x = 1"]
    with pytest.raises(Ambiguous):
        find_block(lines, q("  x = 1", "  x = 2"))


def test_replacement_follows_the_files_indentation_character() -> None:
    assert conform(["def f():", "    pass"], ["\tif x:", "\t\treturn 1"]) == ["    if x:", "        return 1"]
    assert conform(["func f() {", "\treturn", "}"], ["    x := 1"]) == ["\tx := 1"]
    assert conform(["a", "\tb", "    c"], ["\tz"]) == ["\tz"]  # a mixed file is left alone


# ---- rung 3: elision ----------------------------------------------------------------------------


def test_elided_middle_keeps_the_lines_it_stands_for() -> None:
    old = "    def put(self, key, value):\n        ...\n        return value"
    new = "    def put(self, key, value):\n        ...\n        return self.items[key]"
    result, rung = apply(CODE, q(old, new))
    assert rung == "elision" and result[6:] == [*CODE[6:11], "        return self.items[key]"]


@pytest.mark.parametrize("marker", ["# ...", "# ... rest unchanged", "# ... existing code ...", "…"])
def test_comment_markers_elide_too(marker: str) -> None:
    old = f"    def put(self, key, value):\n        {marker}\n        self.log('put', key)"
    old = old.replace("'put'", '"put"')
    new = f'    def put(self, key, value):\n        {marker}\n        self.log("store", key)'
    result, _ = apply(CODE, q(old, new))
    assert result[10] == '        self.log("store", key)' and result[7:10] == CODE[7:10]


def test_javascript_marker_and_a_marker_missing_from_new() -> None:
    js = ["function f(a) {", "  const b = a + 1;", "  const c = b * 2;", "  return c;", "}"]
    result, _ = apply(
        js, q("function f(a) {\n  // ...\n  return c;", "function f(a) {\n  // ...\n  return c + 1;")
    )
    assert result[3] == "  return c + 1;" and result[1:3] == js[1:3]
    with pytest.raises(NoMatch, match="does not repeat it"):
        find_block(js, q("function f(a) {\n  // ...\n  return c;", "function f(a) {\n  return 0;"))


def test_an_elision_never_runs_out_of_the_block_it_was_shown_in() -> None:
    lines = ["def a():", "    x = 1", "    y = 2", "", "def b():", "    return 3"]
    with pytest.raises(NoMatch):  # "return 3" is in b, outside a's body that the marker stands in
        find_block(lines, q("def a():\n    ...\n    return 3", "def a():\n    ...\n    return 4"))


def test_markers_are_told_apart_from_code() -> None:
    assert is_marker("    ...") and is_marker("# ... 12 more lines") and is_marker("/* ... */")
    assert not is_marker("x = ...") and not is_marker("# compute the rest") and not is_marker("print('...')")
    assert is_strong_marker("    # ... rest of the function unchanged") and not is_strong_marker("...")


# ---- rung 4: fuzzy ------------------------------------------------------------------------------


def test_one_misremembered_context_line_still_finds_the_block_and_keeps_the_real_line() -> None:
    old = (
        "    def put(self, key, value):\n        self.check(key)\n        self.items[key] = val\n"
        "        self.count += 1\n        self.log('put', key)"
    )
    new = old.replace("self.count += 1", "self.count += 2")
    match = find_block(CODE, q(old.replace("'put'", '"put"'), new.replace("'put'", '"put"')))
    assert match.rung == "fuzzy" and "line 9 differs" in match.note
    assert match.lines[2] == "        self.items[key] = value"  # the file's line, not the model's
    assert match.lines[3] == "        self.count += 2"


def test_a_misremembered_line_the_edit_changes_is_refused() -> None:
    old = (
        "        self.check(key)\n        self.items[key] = val\n        self.count += 1\n"
        '        self.log("put", key)'
    )
    with pytest.raises(NoMatch):
        find_block(CODE, q(old, old.replace("= val", "= value2")))


def test_low_similarity_is_refused_with_the_closest_lines_shown() -> None:
    old = "        self.check(name)\n        self.data[name] = thing\n        self.total -= 1"
    with pytest.raises(NoMatch) as refused:
        find_block(CODE, q(old, "x"))
    assert "not found" in str(refused.value) and "closest (lines" in str(refused.value)


def test_two_near_identical_blocks_are_refused_not_guessed() -> None:
    block = ["    total = 0", "    for item in items:", "        total += item.price", "    return total"]
    lines = ["def a(items):", *block, "", "def b(items):", *block]
    wrong = "    total = 0\n    for item in items:\n        total += item.cost\n    return total"
    with pytest.raises(NoMatch, match="equally close"):
        find_block(lines, q(wrong, wrong.replace("return total", "return total * 2")))


def test_short_blocks_are_never_matched_fuzzily() -> None:
    with pytest.raises(NoMatch):
        find_block(CODE, q("    def put(self, key, val):\n        self.check(key)", "x"))
