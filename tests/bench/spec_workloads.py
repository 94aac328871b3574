"""Workloads for the speculative-decoding benchmark (bench_decode.py --speculation).

- repair: a repair-phase draft. A minibugs task is materialized, the gold patch applied; the prompt
  is the repair phase's own (system and task templates) with the buggy file and the patch, and the
  model writes the fixed definition (the 20-60 line class or function the patch touches) back.
- free: prose with nothing to copy (an explanation).
- edit call: a constrained `edit_file` call whose old_text and new_text copy code from the prompt.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import prompts
from agent.messages import Message, ToolSpec

MINIBUGS = Path(__file__).resolve().parents[3] / "shared" / "minibugs"
# tasks whose gold patch changes one place in a top-level definition of 20-60 lines
REPAIR_TASKS = ("rate-limit-new-window", "ringbuffer-overwrite", "wire-u16-record", "lru-get-recency")
EDIT = ToolSpec(
    name="edit_file",
    description="Replace old_text (exact lines of the file) with new_text.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "old_text": {"type": "string"},
            "new_text": {"type": "string"},
        },
        "required": ["path", "old_text", "new_text"],
    },
)


@dataclass
class Workload:
    name: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    target: str = ""  # the text the model is asked to write (for the report)


def _definition(source: str, line: int) -> tuple[str, str]:
    """(name, source) of the top-level definition holding `line`."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.lineno <= line <= (node.end_lineno or 0):
            lines = source.splitlines(keepends=True)
            return node.name, "".join(lines[node.lineno - 1 : node.end_lineno])
    raise ValueError(f"no definition at line {line}")


def _named(source: str, name: str) -> str:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return "".join(source.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])
    raise ValueError(f"{name} not found")


def _first_changed_line(patch: str) -> int:
    lines = patch.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("@@"))
    number = int(re.match(r"@@ -(\d+)", lines[at]).group(1))  # type: ignore[union-attr]
    for line in lines[at + 1 :]:
        if line.startswith(("-", "+")):
            return number
        number += 1
    raise ValueError("patch changes nothing")


def repair(task_id: str) -> Workload:
    """The repair-phase prompt for one minibugs task, with the gold patch given as the fix."""
    folder = MINIBUGS / task_id
    task = json.loads((folder / "task.json").read_text())
    patch = (folder / "gold.patch").read_text()
    path = re.search(r"^\+\+\+ b/(\S+)", patch, re.M).group(1)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run([sys.executable, str(MINIBUGS / "materialize.py"), task_id, str(repo)], check=True)
        buggy = (repo / path).read_text()
        subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=repo, check=True)
        fixed = (repo / path).read_text()
    name, _ = _definition(buggy, _first_changed_line(patch))
    context = f"{path}:\n```python\n{buggy}```\n\nThe fix, as a patch:\n```diff\n{patch}```"
    tests = "\n".join(f"FAILED {test}" for test in task["fail_to_pass"])
    user = prompts.render(
        "repair_task", task=task["issue"], context=context, tests=tests, language="python", instructions=""
    )
    target = _named(fixed, name)
    lines = len(target.splitlines())
    whole = f"\n\nWrite the whole fixed `{name}` ({lines} lines), not only the lines that change."
    messages = [Message.system(prompts.render("repair_system")), Message.user(user + whole)]
    return Workload(f"repair {task_id}", messages, target=target)


def free_text() -> Workload:
    ask = "Explain in three short paragraphs how a hash table resolves collisions, without code."
    return Workload("free text", [Message.user(ask)])


def edit_call(task_id: str = REPAIR_TASKS[0]) -> Workload:
    """The same task, answered by an edit_file call that copies the changed lines from the prompt."""
    base = repair(task_id)
    ask = base.messages[1].content + "\n\nMake the change with one edit_file call."
    return Workload(f"edit call {task_id}", [base.messages[0], Message.user(ask)], [EDIT], base.target)
