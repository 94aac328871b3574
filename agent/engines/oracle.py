"""The oracle: a task's reference fix replayed through the agent's own tools, as a scripted run.

From each file's base text and its fixed (gold) text it computes the `edit_file` calls (or
`create_file` for a new file) that turn one into the other, each `old_text` grown with context
lines until it is unique in the file as it is at that point; then `run_tests` and `finish`. The
`ScriptedEngine` replays the turns, so the loop, the tools, the sandbox and the test runner all
run for real. It proves the harness; the gold is read only here and never shown to a model.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path

from agent.engines.scripted import ScriptedCall, ScriptedTurn

ORACLE_MODEL = "oracle"


def _count(text: str, part: str) -> int:
    """Occurrences of `part` in `text`, overlapping ones included (as edit_file counts them)."""
    count, at = 0, text.find(part)
    while at != -1:
        count += 1
        at = text.find(part, at + 1)
    return count


def _changes(before: list[str], after: list[str]) -> list[tuple[int, int, int, int]]:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def edit_calls(path: str, before: str, after: str) -> list[ScriptedCall]:
    """`edit_file` calls that turn `before` into `after`, applied in order (LF newlines)."""
    current = before.splitlines(keepends=True)
    target = after.splitlines(keepends=True)
    calls: list[ScriptedCall] = []
    shift = 0
    for i1, i2, j1, j2 in _changes(current[:], target):
        start, end = i1 + shift, i2 + shift
        lo, hi = start, end
        text = "".join(current)
        while not ("".join(current[lo:hi]).strip() and _count(text, "".join(current[lo:hi])) == 1):
            if lo == 0 and hi == len(current):
                return [_whole_file(path, after)]
            lo, hi = max(0, lo - 1), min(len(current), hi + 1)
        replacement = current[lo:start] + target[j1:j2] + current[end:hi]
        old, new = "".join(current[lo:hi]), "".join(replacement)
        arguments = {"path": path, "old_text": old, "new_text": new}
        calls.append(ScriptedCall(name="edit_file", arguments=arguments))
        current[lo:hi] = replacement
        shift += (j2 - j1) - (i2 - i1)
    return calls


def _whole_file(path: str, content: str) -> ScriptedCall:
    return ScriptedCall(name="create_file", arguments={"path": path, "content": content, "overwrite": True})


def oracle_turns(changes: Mapping[str, tuple[str | None, str]]) -> list[ScriptedTurn]:
    """Turns for `{path: (base text or None for a new file, gold text)}`: a plan, one edit per
    turn, the tests, and finish."""
    paths = sorted(changes)
    plan = f"1. Apply the reference change to {', '.join(paths)}\n2. Run the tests\n3. Finish"
    turns = [ScriptedTurn(text=plan)]
    for path in paths:
        before, after = changes[path]
        before, after = (before or "").replace("\r\n", "\n"), after.replace("\r\n", "\n")
        calls = edit_calls(path, before, after) if before else [_whole_file(path, after)]
        turns += [ScriptedTurn(text=f"Edit {path}.", tool_calls=[call]) for call in calls]
    turns.append(ScriptedTurn(tool_calls=[ScriptedCall(name="run_tests")]))
    summary = f"applied the reference fix to {', '.join(paths)}"
    turns.append(ScriptedTurn(tool_calls=[ScriptedCall(name="finish", arguments={"summary": summary})]))
    return turns


def write_oracle_script(path: Path, repo: Path, gold: Mapping[str, str]) -> Path:
    """Write the oracle's script for the files of `repo` and their `gold` versions; the file's name
    is the model name reports show."""
    changes: dict[str, tuple[str | None, str]] = {}
    for rel, fixed in gold.items():
        base = repo / rel
        changes[rel] = (base.read_bytes().decode("utf-8") if base.is_file() else None, fixed)
    turns = [turn.model_dump(exclude_defaults=True) for turn in oracle_turns(changes)]
    path.write_text(json.dumps(turns, indent=1), encoding="utf-8")
    return path
