"""Benchmark cases: each real edit written as a model would write it, then made sloppy.

A `Case` is one tool call on one file with the file's expected text afterwards. Formats:
edit_file (search/replace with one line of context, more until unique), apply_patch with a unified
diff and with a `*** Begin Patch` envelope (3 context lines), replace_lines with the file's hash.

`acceptable` says whether a careful human, handed the same sloppy text, would apply it: the text
must still point at exactly one place of the file. Controls that must be refused (a search text
that now occurs twice, a stale hash, a truncated whole-file write) are never acceptable; for them
only "applied wrongly" counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.bench.edit_sources import RealEdit
from tools.editing.blocks import key
from tools.editing.textfile import short_hash

UNIFIED, CODEX, SEARCH, LINES, WHOLE = (
    "unified diff",
    "codex patch",
    "search/replace",
    "replace_lines",
    "whole file",
)
MARKERS = ("...", "# ...", "# ... existing code ...")
_WORD = re.compile(r"[A-Za-z_]{4,}")


@dataclass
class Case:
    id: str
    perturbation: str
    fmt: str
    path: str
    disk: str  # the file as the tool finds it
    tool: str
    args: dict[str, Any]
    expected: str | None  # the file after a correct application; None: only a refusal is right
    acceptable: bool  # a careful human would apply it


@dataclass
class Side:
    """A hunk as lines tagged ' ' (context), '-' (old) or '+' (new), with its old start line."""

    tagged: list[tuple[str, str]]
    start: int  # 0-based first old line

    @property
    def old(self) -> list[str]:
        return [text for tag, text in self.tagged if tag != "+"]

    @property
    def new(self) -> list[str]:
        return [text for tag, text in self.tagged if tag != "-"]

    def map(self, change: Callable[[int, str, str], str]) -> Side:
        return Side([(tag, change(i, tag, text)) for i, (tag, text) in enumerate(self.tagged)], self.start)


def side_of(edit: RealEdit, context: int) -> Side:
    lines = edit.lines
    lo, hi = max(0, edit.start - context), min(len(lines), edit.end + context)
    tagged = [(" ", line) for line in lines[lo : edit.start]]
    tagged += [("-", line) for line in lines[edit.start : edit.end]]
    tagged += [("+", line) for line in edit.replacement]
    tagged += [(" ", line) for line in lines[edit.end : hi]]
    return Side(tagged, lo)


def windows_where(lines: list[str], block: list[str], skip: int | None = None) -> int:
    """How many places have `block` (compared without whitespace; line `skip` ignored)."""
    want = [key(line) for line in block]
    keys = [key(line) for line in lines]
    n = len(want)
    return sum(all(k == skip or keys[s + k] == want[k] for k in range(n)) for s in range(len(lines) - n + 1))


def unique_side(edit: RealEdit) -> Side | None:
    """The search/replace a careful model writes: one line of context, more until it is unique."""
    for context in range(1, 5):
        side = side_of(edit, context)
        if windows_where(edit.lines, side.old) == 1 and "\n".join(side.old) and _exact_once(edit, side):
            return side
    return None


def _exact_once(edit: RealEdit, side: Side) -> bool:
    return edit.before.count("\n".join(side.old) + "\n") == 1


# ---- perturbations of the model's text ----------------------------------------------------------


def shift(side: Side) -> Side:
    return side.map(lambda i, tag, text: "    " + text if text.strip() else text)


def dedent(side: Side) -> Side | None:
    indents = [len(t) - len(t.lstrip()) for _, t in side.tagged if t.strip()]
    cut = min(indents, default=0)
    return side.map(lambda i, tag, text: text[cut:]) if cut else None


def tabs(side: Side) -> Side | None:
    def tab(i: int, tag: str, text: str) -> str:
        body = text.lstrip(" ")
        spaces = len(text) - len(body)
        return "\t" * (spaces // 4) + " " * (spaces % 4) + body

    changed = side.map(tab)
    return changed if changed.tagged != side.tagged else None


def trailing(side: Side) -> Side:
    return side.map(lambda i, tag, text: text + "  " if tag != "+" and text.strip() and i % 2 == 0 else text)


def mutate(text: str) -> str:
    words = _WORD.findall(text)
    if words:
        word = max(words, key=len)
        mid = len(word) // 2
        changed = word[:mid] + ("x" if word[mid] != "x" else "y") + word[mid + 1 :]
        return text.replace(word, changed, 1)
    return text + " 1"


def wrong_line(side: Side) -> tuple[Side, int] | None:
    """One context line misremembered (in both old and new, as the model believes it)."""
    context = [i for i, (tag, text) in enumerate(side.tagged) if tag == " " and len(key(text)) >= 8]
    if not context:
        return None
    pick = context[len(context) // 2]
    old_index = sum(1 for tag, _ in side.tagged[:pick] if tag != "+")
    return side.map(lambda i, tag, text: mutate(text) if i == pick else text), old_index


def numbered(side: Side) -> Side:
    first = side.start + 1
    width = len(str(first + len(side.old)))
    counters = {"old": first, "new": first}

    def prefix(i: int, tag: str, text: str) -> str:
        which = "new" if tag == "+" else "old"
        n = counters[which]
        counters[which] += 1
        if tag == " ":
            counters["new"] += 1
        return f"{n:>{width}}| {text}"

    return side.map(prefix)


# ---- formats ------------------------------------------------------------------------------------


def search_args(edit: RealEdit, side: Side, newline: str = "\n") -> dict[str, Any]:
    return {
        "path": edit.path,
        "old_text": newline.join(side.old) + newline,
        "new_text": newline.join(side.new) + newline if side.new else "",
    }


def unified_text(edit: RealEdit, side: Side, start: int | None = None, counts: bool = True) -> list[str]:
    first = (side.start if start is None else start) + 1
    old_n, new_n = len(side.old), len(side.new)
    header = f"@@ -{first},{old_n} +{first},{new_n} @@" if counts else f"@@ -{first} +{first} @@"
    return [f"--- a/{edit.path}", f"+++ b/{edit.path}", header, *(tag + text for tag, text in side.tagged)]


def scope_line(edit: RealEdit, side: Side) -> str | None:
    """The nearest `def`/`class` line above the hunk that encloses it (what Codex models put after @@)."""
    lines = edit.lines
    first = next((t for _, t in side.tagged if t.strip()), "")
    depth = len(first) - len(first.lstrip())
    for i in range(side.start - 1, -1, -1):
        text = lines[i]
        if (
            text.strip()
            and len(text) - len(text.lstrip()) < depth
            and text.lstrip().startswith(("def ", "class ", "async def "))
        ):
            return text.strip()
        if text.strip() and len(text) - len(text.lstrip()) == 0:
            return None
    return None


def codex_text(edit: RealEdit, side: Side, scope: str | None) -> list[str]:
    body = [tag + text for tag, text in side.tagged]
    return [
        "*** Begin Patch",
        f"*** Update File: {edit.path}",
        f"@@ {scope}" if scope else "@@",
        *body,
        "*** End Patch",
    ]


def no_space(lines: list[str]) -> list[str]:
    return [line[1:] if line.startswith(" ") else line for line in lines]


def elided(edit: RealEdit, side: Side, marker: str) -> tuple[Side, bool] | None:
    """old/new with the lines between the enclosing def and the hunk left out as `marker`."""
    lines = edit.lines
    first = side.start
    depth = len(lines[first]) - len(lines[first].lstrip()) if first < len(lines) else 0
    head = next(
        (
            i
            for i in range(first - 1, -1, -1)
            if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) < depth
        ),
        None,
    )
    if head is None or first - head < 4:
        return None
    gap = lines[head + 1 : first]
    indent = min((len(t) - len(t.lstrip()) for t in gap if t.strip()), default=depth)
    tagged = [(" ", lines[head]), (" ", " " * indent + marker), *side.tagged]
    unique = windows_where(lines, [lines[head]]) == 1
    return Side(tagged, head), unique


# ---- the cases ----------------------------------------------------------------------------------


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def cases_for(edit: RealEdit, n: int) -> Iterator[Case]:
    expected = edit.after()
    side = unique_side(edit)
    name = f"{edit.source}:{edit.path}:{edit.start + 1}"
    if side is not None:
        yield from _search_cases(edit, side, expected, name)
    yield from _patch_cases(edit, expected, name, n)
    yield from _line_cases(edit, expected, name)


def _case(
    name: str,
    kind: str,
    fmt: str,
    edit: RealEdit,
    tool: str,
    args: dict[str, Any],
    expected: str | None,
    ok: bool,
    disk: str | None = None,
) -> Case:
    return Case(
        f"{name}:{fmt}:{kind}",
        kind,
        fmt,
        edit.path,
        disk if disk is not None else edit.before,
        tool,
        args,
        expected,
        ok,
    )


def _search_cases(edit: RealEdit, side: Side, expected: str, name: str) -> Iterator[Case]:
    lines = edit.lines
    unique_loose = windows_where(lines, side.old) == 1

    def case(kind: str, s: Side, ok: bool = True, newline: str = "\n") -> Case:
        return _case(name, kind, SEARCH, edit, "edit_file", search_args(edit, s, newline), expected, ok)

    yield case("none", side)
    yield case("indent shift", shift(side), unique_loose)
    if (d := dedent(side)) is not None:
        yield case("dedent", d, unique_loose)
    if (t := tabs(side)) is not None:
        yield case("tabs for spaces", t, unique_loose)
    yield case("trailing whitespace", trailing(side))
    yield case("line numbers", numbered(side))
    yield case("CRLF in text", side, newline="\r\n")
    yield _case(
        name,
        "CRLF file",
        SEARCH,
        edit,
        "edit_file",
        search_args(edit, side),
        crlf(expected),
        True,
        crlf(edit.before),
    )
    wide = side_of(edit, 3)
    if (w := wrong_line(wide)) is not None:
        wrong, at = w
        ok = sum(1 for t in wrong.old if t.strip()) >= 4 and windows_where(lines, wide.old, skip=at) == 1
        yield case("one wrong line", wrong, ok)
    for marker in MARKERS:
        if (e := elided(edit, side, marker)) is not None:
            yield case(f"elided middle ({marker.split()[0] if marker != '...' else '...'})", e[0], e[1])
            break
    copy = "\n" + "\n".join(side.old) + "\n"
    args = search_args(edit, side)
    yield _case(
        name,
        "ambiguous (control)",
        SEARCH,
        edit,
        "edit_file",
        args,
        expected + copy,
        False,
        edit.before + copy,
    )
    if len(side.new) >= 3:
        cut = Side([*side.tagged[: len(side.old) + 1], ("+", "# ... rest unchanged")], side.start)
        args = search_args(edit, cut)
        yield _case(name, "new text elided (control)", SEARCH, edit, "edit_file", args, None, False)
    truncated = (
        "\n".join([*lines[: edit.start], *edit.replacement, "# ... rest of the file unchanged"]) + "\n"
    )
    if edit.end + 5 < len(lines):
        args = {"path": edit.path, "content": truncated, "overwrite": True}
        yield _case(name, "truncated file (control)", WHOLE, edit, "create_file", args, None, False)


def _patch_cases(edit: RealEdit, expected: str, name: str, n: int) -> Iterator[Case]:
    side = side_of(edit, 3)
    lines = edit.lines
    unique = windows_where(lines, side.old) == 1

    def patch(
        kind: str,
        text: list[str],
        ok: bool,
        fmt: str,
        newline: str = "\n",
        disk: str | None = None,
        exp: str | None = expected,
    ) -> Case:
        return _case(
            name, kind, fmt, edit, "apply_patch", {"patch": newline.join(text) + newline}, exp, ok, disk
        )

    yield patch("none", unified_text(edit, side), True, UNIFIED)
    stale = max(0, side.start + (-11, 7, 40, -3)[n % 4])
    yield patch("stale hunk header", unified_text(edit, side, start=stale), unique, UNIFIED)
    yield patch("wrong hunk counts", unified_text(edit, side, counts=False), True, UNIFIED)
    yield patch("context without space", no_space(unified_text(edit, side)), True, UNIFIED)
    yield patch("indent shift", unified_text(edit, shift(side)), windows_where(lines, side.old) == 1, UNIFIED)
    yield patch("trailing whitespace", unified_text(edit, trailing(side)), True, UNIFIED)
    if (d := dedent(side)) is not None:
        yield patch("dedent", unified_text(edit, d), unique, UNIFIED)
        yield patch("dedent", codex_text(edit, d, scope_line(edit, side)), unique, CODEX)
    if (t := tabs(side)) is not None:
        yield patch("tabs for spaces", unified_text(edit, t), unique, UNIFIED)
    yield patch("CRLF in text", unified_text(edit, side), True, UNIFIED, "\r\n")
    yield patch(
        "CRLF file", unified_text(edit, side), True, UNIFIED, disk=crlf(edit.before), exp=crlf(expected)
    )
    if (w := wrong_line(side)) is not None:
        wrong, at = w
        ok = sum(1 for t in wrong.old if t.strip()) >= 4 and windows_where(lines, side.old, skip=at) == 1
        yield patch("one wrong line", unified_text(edit, wrong), ok, UNIFIED)
    scope = scope_line(edit, side)
    yield patch("none", codex_text(edit, side, scope), True, CODEX)
    yield patch("context without space", no_space(codex_text(edit, side, scope)), True, CODEX)
    yield patch("indent shift", codex_text(edit, shift(side), scope and "    " + scope), unique, CODEX)
    yield patch("trailing whitespace", codex_text(edit, trailing(side), scope), True, CODEX)
    yield patch("CRLF in text", codex_text(edit, side, scope), True, CODEX, "\r\n")
    yield patch("wrong scope line", codex_text(edit, side, "def no_such_function():"), unique, CODEX)
    if (w := wrong_line(side)) is not None:
        wrong, at = w
        ok = sum(1 for t in wrong.old if t.strip()) >= 4 and windows_where(lines, side.old, skip=at) == 1
        yield patch("one wrong line", codex_text(edit, wrong, scope), ok, CODEX)
    copy = "\n" + "\n".join(side.old) + "\n"
    yield patch(
        "ambiguous (control)",
        codex_text(edit, side, None),
        False,
        CODEX,
        disk=edit.before + copy,
        exp=expected + copy,
    )


def _line_cases(edit: RealEdit, expected: str, name: str) -> Iterator[Case]:
    if edit.end == edit.start:
        return
    args = {
        "path": edit.path,
        "start_line": edit.start + 1,
        "end_line": edit.end,
        "new_text": "\n".join(edit.replacement) + ("\n" if edit.replacement else ""),
        "hash": short_hash(edit.before),
    }
    yield _case(name, "none", LINES, edit, "replace_lines", args, expected, True)
    width = len(str(edit.start + len(edit.replacement)))
    prefixed = [f"{n:>{width}}| {t}" for n, t in enumerate(edit.replacement, edit.start + 1)]
    numbered_args = {**args, "new_text": "\n".join(prefixed) + "\n"} if edit.replacement else args
    yield _case(name, "line numbers", LINES, edit, "replace_lines", numbered_args, expected, True)
    if edit.end < len(edit.lines) and len(key(edit.lines[edit.end])) >= 4:
        extra = {**args, "new_text": f"{args['new_text']}{edit.lines[edit.end]}\n"}
        yield _case(name, "line outside range (control)", LINES, edit, "replace_lines", extra, None, False)
    changed = edit.before.replace("\n", "\n\n", 1)  # the file changed since it was read
    yield _case(name, "stale hash (control)", LINES, edit, "replace_lines", args, None, False, changed)
