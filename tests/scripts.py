"""Scripted turns for runs of the loop on the median repository (tests/repos.py), and one run
of `agent fix` with them in the real sandbox. A support module: tests import it, never each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git

from agent.build import fix_run
from agent.config import AgentConfig
from agent.engines.base import Engine
from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import RunEvent
from agent.run.fix import FixRequest
from agent.run.report import RunReport
from tests.paths import MEDIAN_SCRIPT
from tests.sandboxes import sandboxes

PLAN = ScriptedTurn(text="1. Read stats.py\n2. Fix the even case\n3. Run the tests")

READ = ScriptedTurn(
    text="Read the code.", tool_calls=[{"name": "read_file", "arguments": {"path": "stats.py"}}]
)

FIXED_BODY = "".join(
    [
        "    mid = len(s) // 2\n",
        "    if len(s) % 2 == 0:\n",
        "        return (s[mid - 1] + s[mid]) / 2\n",
        "    return s[mid]\n",
    ]
)

EDIT = ScriptedTurn(
    text="Average the two middle values for even lengths.",
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    mid = len(s) // 2\n    if len(s) % 2 == 0:\n"
                "        return (s[mid - 1] + s[mid]) / 2\n    return s[mid]\n",
            },
        }
    ],
)

TEST = ScriptedTurn(tool_calls=[{"name": "run_tests", "arguments": {}}])

# a change that keeps the bug: the even case still fails
WRONG_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    middle = s[len(s) // 2]\n    return middle\n",
            },
        }
    ]
)

FINISH = ScriptedTurn(
    tool_calls=[{"name": "finish", "arguments": {"summary": "median averages the middle pair"}}]
)

UNDO_WRONG_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    middle = s[len(s) // 2]\n    return middle\n",
                "new_text": "    return s[len(s) // 2]\n",
            },
        }
    ]
)

BREAKING_EDIT = ScriptedTurn(
    tool_calls=[
        {
            "name": "edit_file",
            "arguments": {
                "path": "stats.py",
                "old_text": "    return s[len(s) // 2]\n",
                "new_text": "    return s[0]\n",
            },
        }
    ]
)


def rename_edit(before: int, after: int) -> ScriptedTurn:
    """A change that keeps the bug: the middle value under another name (0: the original line)."""

    def body(i: int) -> str:
        return "    return s[len(s) // 2]\n" if i == 0 else f"    m{i} = s[len(s) // 2]\n    return m{i}\n"

    arguments = {"path": "stats.py", "old_text": body(before), "new_text": body(after)}
    return ScriptedTurn(tool_calls=[{"name": "edit_file", "arguments": arguments}])


def fence(code: str, before: str = "") -> ScriptedTurn:
    """A reply holding `code` in one fenced python block (a repair draft or a test), after `before`."""
    return ScriptedTurn(text=f"{before}```python\n{code}```")


def turns(*items: ScriptedTurn | dict) -> list[ScriptedTurn]:
    return [t if isinstance(t, ScriptedTurn) else ScriptedTurn.model_validate(t) for t in items]


def run_fix(
    repo: Path, engine: Engine, task: str = "median of an even-length list is wrong", **kw: Any
) -> tuple[RunReport, list[RunEvent]]:
    """One attempt unless the test is about attempts: a stuck script would otherwise start over."""
    events: list[RunEvent] = []
    config = AgentConfig(**{"max_steps": 12, "max_attempts": 1, "repair": "off", "reproduce": "off", **kw})
    run = fix_run(engine, sandboxes(repo, config), config, events.append)
    report = run.run(FixRequest(task=task, repo=git.Repo(repo)))
    return report, events


def scripted(turns: list[ScriptedTurn] | None = None) -> ScriptedEngine:
    """A replay of `turns`, or of the whole median fix (MEDIAN_SCRIPT)."""
    return ScriptedEngine(turns) if turns is not None else ScriptedEngine.from_file(MEDIAN_SCRIPT)
