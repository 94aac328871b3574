"""Indentation the model got wrong, mapped onto the file's, and the model's change merged into the file.

A block the model quoted may sit in the file shifted, with tabs for spaces, or at another
indentation step. `Reindent` fits file_width = offset + scale * model_width over the lines both
sides share (tabs count as 4 columns on each side), refuses the fit unless every line agrees, and
writes the model's new lines in the file's indentation.

`merge` applies the model's own change (old_text -> new_text) to the lines actually found: lines
the model left unchanged keep the file's exact text, so a misremembered context line or a
trailing space never leaks into the file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction

TAB_COLUMNS = 4


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def width(indent: str) -> int:
    return sum(TAB_COLUMNS if ch == "\t" else 1 for ch in indent)


@dataclass(frozen=True)
class Reindent:
    offset: Fraction = Fraction(0)
    scale: Fraction = Fraction(1)
    tabs: bool = False  # the file's block is indented with tabs
    identity: bool = True

    @classmethod
    def fit(cls, pairs: list[tuple[str, str]]) -> Reindent | None:
        """The map from the model's indentation to the file's over (model line, file line) pairs of
        non-blank lines with the same content; None when no single map fits every pair."""
        pairs = [(m, f) for m, f in pairs if m.strip() and f.strip()]
        if all(indent_of(m) == indent_of(f) for m, f in pairs):
            return cls()
        points = sorted({(width(indent_of(m)), width(indent_of(f))) for m, f in pairs})
        model_widths = sorted({m for m, _ in points})
        if len(model_widths) != len(points):
            return None  # one model indentation maps to two file indentations
        if len(points) == 1:
            scale = Fraction(1)
        else:
            (m0, f0), (m1, f1) = points[0], points[-1]
            scale = Fraction(f1 - f0, m1 - m0)
        offset = Fraction(points[0][1]) - scale * points[0][0]
        if scale <= 0 or any(offset + scale * m != f for m, f in points):
            return None
        file_indents = [indent_of(f) for _, f in pairs if indent_of(f)]
        tabs = bool(file_indents) and all(set(i) == {"\t"} for i in file_indents)
        return cls(offset=offset, scale=scale, tabs=tabs, identity=False)

    def apply(self, line: str) -> str:
        if self.identity:
            return line
        if not line.strip():
            return ""
        columns = max(0, round(self.offset + self.scale * width(indent_of(line))))
        indent = (
            "\t" * (columns // TAB_COLUMNS) + " " * (columns % TAB_COLUMNS) if self.tabs else " " * columns
        )
        return indent + line.lstrip()

    def maps(self, model_indent: str) -> int:
        """The file column a model indentation corresponds to."""
        return max(0, round(self.offset + self.scale * width(model_indent)))


def merge(found: list[str], old: list[str], new: list[str], reindent: Reindent) -> list[str]:
    """`new` as it should appear where `old` was found as `found` (aligned line by line)."""
    if found == old and reindent.identity:
        return list(new)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(found[i1:i2])
        else:
            out.extend(reindent.apply(line) for line in new[j1:j2])
    return out


def indent_unit(lines: list[str]) -> int:
    """The file's usual indentation step in columns (the most common increase between lines)."""
    steps: dict[int, int] = {}
    previous = 0
    for line in lines:
        if not line.strip():
            continue
        current = width(indent_of(line))
        if current > previous:
            steps[current - previous] = steps.get(current - previous, 0) + 1
        previous = current
    return max(steps, key=lambda s: (steps[s], -s)) if steps else TAB_COLUMNS


def conform(file_lines: list[str], lines: list[str]) -> list[str]:
    """`lines` indented with the file's character: tabs become spaces in a file indented only with
    spaces, and spaces tabs in a file indented only with tabs; mixed files are left alone."""
    tabbed = any(line.startswith("\t") for line in file_lines)
    spaced = any(line.startswith(" ") and line.strip() for line in file_lines)
    if tabbed == spaced:
        return lines
    unit = indent_unit(file_lines) if spaced else TAB_COLUMNS
    out = []
    for line in lines:
        indent = indent_of(line)
        if spaced and "\t" in indent:
            line = " " * (indent.count("\t") * unit + indent.count(" ")) + line[len(indent) :]
        elif tabbed and indent.startswith(" ") and not line.startswith("\t"):
            tabs, rest = divmod(len(indent.expandtabs(TAB_COLUMNS)), TAB_COLUMNS)
            line = "\t" * tabs + " " * rest + line[len(indent) :]
        out.append(line)
    return out
