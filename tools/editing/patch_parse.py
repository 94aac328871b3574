"""Reading the patches models write: unified diffs and the `*** Begin Patch` envelope.

Tolerant of what models get wrong: hunk headers with wrong line numbers or counts (the numbers
are only a hint, the counts are ignored), context lines that lost their leading space, CRLF,
markdown code fences, a missing `*** End Patch`. A hunk keeps a second reading, its context lines with
their first character, for a model that dropped the leading space of every context line.

Envelope format (one or more file sections):

    *** Begin Patch
    *** Update File: path            (optionally followed by `*** Move to: new/path`)
    @@ def enclosing_scope():        (optional; narrows where the lines below are looked for)
     context line
    -removed line
    +added line
    *** Add File: path               (every line of the new file starts with +)
    *** Delete File: path
    *** End Patch
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from tools.base import ToolError

_HUNK_HEADER = re.compile(r"^@@+\s*-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s*@@+(.*)$")
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$")


class PatchError(ToolError):
    """The patch cannot be read; the message says what to fix."""


@dataclass
class Hunk:
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    raw_old: list[str] | None = None  # the reading with unstripped context lines (see module doc)
    raw_new: list[str] | None = None
    hint: int | None = None  # 0-based first old line, from the header
    anchors: list[str] = field(default_factory=list)  # envelope `@@ text` scope lines
    at_eof: bool = False  # envelope `*** End of File`
    header: str = ""


@dataclass
class FilePatch:
    path: str
    kind: Literal["update", "add", "delete"] = "update"
    hunks: list[Hunk] = field(default_factory=list)
    move_to: str | None = None
    content: list[str] = field(default_factory=list)  # for "add": the new file's lines


def _clean(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and (not lines[0].strip() or _FENCE.match(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _FENCE.match(lines[-1])):
        lines.pop()
    return lines


def parse_patch(text: str) -> list[FilePatch]:
    lines = _clean(text)
    if not lines:
        raise PatchError("the patch is empty")
    if any(line.strip().startswith("*** Begin Patch") for line in lines[:3]) or any(
        line.startswith(("*** Update File:", "*** Add File:", "*** Delete File:")) for line in lines
    ):
        patches = parse_envelope(lines)
    else:
        patches = parse_unified(lines)
    if not patches:
        raise PatchError(
            "no file changes found in the patch: use a unified diff (--- a/path, +++ b/path, @@ hunks) "
            "or *** Begin Patch / *** Update File: path / @@ / *** End Patch"
        )
    return patches


# ---- hunk bodies (shared) -----------------------------------------------------------------------


def _add_body_line(hunk: Hunk, line: str) -> None:
    """One line of a hunk: ' ' context, '-' old, '+' new, anything else context as written."""
    if hunk.raw_old is None:
        hunk.raw_old, hunk.raw_new = [], []
    assert hunk.raw_new is not None
    if line.startswith("\\"):  # "\ No newline at end of file"
        return
    if line.startswith("-"):
        hunk.old.append(line[1:])
        hunk.raw_old.append(line[1:])
    elif line.startswith("+"):
        hunk.new.append(line[1:])
        hunk.raw_new.append(line[1:])
    else:
        content = line[1:] if line.startswith(" ") else line
        hunk.old.append(content)
        hunk.new.append(content)
        hunk.raw_old.append(line)
        hunk.raw_new.append(line)


def _finish(hunk: Hunk) -> Hunk:
    """Drop trailing blank lines (the patch's own end); keep the raw reading (context lines with
    their first character) only when it differs."""
    while hunk.old and hunk.new and hunk.old[-1] == "" and hunk.new[-1] == "":
        hunk.old.pop()
        hunk.new.pop()
        if hunk.raw_old and hunk.raw_new:
            hunk.raw_old.pop()
            hunk.raw_new.pop()
    if hunk.raw_old == hunk.old:
        hunk.raw_old = hunk.raw_new = None
    return hunk


# ---- unified diff -------------------------------------------------------------------------------


def _diff_path(spec: str) -> str | None:
    name = spec.split("\t")[0].strip()
    if name == "/dev/null":
        return None
    if len(name) > 2 and name[1] == "/" and name[0] in "abciow":
        name = name[2:]
    return name


def parse_unified(lines: list[str]) -> list[FilePatch]:
    patches: list[FilePatch] = []
    current: FilePatch | None = None
    hunk: Hunk | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if hunk is not None and current is not None:
                current.hunks.append(_finish(hunk))
            hunk = None
            old_path, new_path = _diff_path(line[4:]), _diff_path(lines[i + 1][4:])
            current = _unified_file(old_path, new_path, patches)
            i += 2
            continue
        if line.startswith("diff --git ") or line.startswith(
            ("index ", "new file mode", "deleted file mode")
        ):
            if hunk is not None and current is not None:
                current.hunks.append(_finish(hunk))
                hunk = None
            i += 1
            continue
        if line.startswith("@@"):
            if current is None:
                raise PatchError(
                    "a hunk (@@) comes before any file header: start with --- a/path and +++ b/path"
                )
            if hunk is not None:
                current.hunks.append(_finish(hunk))
            hunk = _hunk_from_header(line)
        elif hunk is not None:
            _add_body_line(hunk, line)
        i += 1
    if hunk is not None and current is not None:
        current.hunks.append(_finish(hunk))
    for patch in patches:
        if patch.kind == "add":
            patch.content = [line for h in patch.hunks for line in h.new]
    return patches


def _unified_file(old_path: str | None, new_path: str | None, patches: list[FilePatch]) -> FilePatch:
    if old_path is None and new_path is None:
        raise PatchError("a file header names /dev/null on both sides")
    if old_path is None:
        patch = FilePatch(path=str(new_path), kind="add")
    elif new_path is None:
        patch = FilePatch(path=old_path, kind="delete")
    else:
        patch = FilePatch(path=old_path, move_to=new_path if new_path != old_path else None)
    patches.append(patch)
    return patch


def _hunk_from_header(line: str) -> Hunk:
    found = _HUNK_HEADER.match(line)
    if not found:
        return Hunk(header=line.strip())
    start = int(found.group(1))
    return Hunk(hint=max(0, start - 1), header=line.strip())


# ---- the envelope -------------------------------------------------------------------------------


def parse_envelope(lines: list[str]) -> list[FilePatch]:
    patches: list[FilePatch] = []
    current: FilePatch | None = None
    hunk: Hunk | None = None

    def close_hunk() -> None:
        nonlocal hunk
        if hunk is not None and current is not None and (hunk.old or hunk.new):
            current.hunks.append(_finish(hunk))
        hunk = None

    for line in lines:
        stripped = line.strip()
        if stripped in ("*** Begin Patch", "*** End Patch"):
            close_hunk()
            continue
        header = _envelope_header(stripped)
        if header is not None:
            close_hunk()
            kind, path = header
            if kind == "move":
                if current is None or current.kind != "update":
                    raise PatchError("*** Move to: must follow an *** Update File: line")
                current.move_to = path
                continue
            current = FilePatch(path=path, kind=kind)
            patches.append(current)
            continue
        if current is None:
            raise PatchError(f"line {line!r} is outside any file section: start with *** Update File: path")
        if current.kind == "add":
            current.content.append(line[1:] if line.startswith("+") else line)
        elif current.kind == "delete":
            if stripped:
                raise PatchError(f"*** Delete File: {current.path} takes no lines, got {line!r}")
        elif stripped == "*** End of File":
            if hunk is not None:
                hunk.at_eof = True
            close_hunk()
        elif line.startswith("@@"):
            if hunk is not None and (hunk.old or hunk.new):
                close_hunk()
            anchor = line[2:].strip()
            if hunk is None:
                hunk = Hunk(header=line.strip())
            if anchor:
                hunk.anchors.append(anchor)
        else:
            if hunk is None:
                hunk = Hunk(header="@@")
            _add_body_line(hunk, line)
    close_hunk()
    return patches


def _envelope_header(stripped: str) -> tuple[Literal["update", "add", "delete", "move"], str] | None:
    for prefix, kind in (
        ("*** Update File:", "update"),
        ("*** Add File:", "add"),
        ("*** Delete File:", "delete"),
        ("*** Move to:", "move"),
    ):
        if stripped.startswith(prefix):
            path = stripped[len(prefix) :].strip()
            if not path:
                raise PatchError(f"{prefix} needs a path")
            return kind, path  # type: ignore[return-value]
    return None
