"""The context window (agent/loop/window.py): refused when too small, compacted when full."""

from __future__ import annotations

import re
from pathlib import Path

from agent.engines.scripted import ScriptedEngine, ScriptedTurn
from agent.events import Notice, RunFinished, TurnUsage
from tests.repos import git as run_git
from tests.repos import snapshot
from tests.scripts import (
    EDIT,
    FINISH,
    PLAN,
    READ,
    TEST,
    run_fix,
    turns,
)


def test_a_context_too_small_for_the_prompt_is_refused_before_any_turn(user_repo: Path) -> None:
    """The run had started (its worktree, its first event): it ends with a report saying why."""
    before = snapshot(user_repo)
    engine = ScriptedEngine(turns(PLAN, READ), context_length=600)
    report, events = run_fix(user_repo, engine)
    assert report.status == "error" and report.stop_reason == "usage_error" and report.steps == 0
    assert re.search(r"raise --ctx to at least \d+", report.notices[0]), report.notices
    assert isinstance(events[-1], RunFinished) and events[-1].report["status"] == "error"
    assert snapshot(user_repo) == before
    assert not run_git(user_repo, "branch", "--list", "agent/*").strip()


def test_a_full_context_is_compacted_and_said_not_cut_silently(user_repo: Path) -> None:
    reads = [
        ScriptedTurn(tool_calls=[{"name": "read_file", "arguments": {"path": "stats.py", "start_line": n}}])
        for n in (1, 2, 3, 1, 2, 3)
    ]
    script = turns(PLAN, *reads, EDIT, TEST, FINISH)
    _, roomy = run_fix(user_repo, ScriptedEngine(script), context_budget=0)  # no repository pack
    largest = max(e.usage.prompt_tokens for e in roomy if isinstance(e, TurnUsage))
    reply_room = 768  # the loop keeps room for one reply of turn_max_tokens
    tight = ScriptedEngine(script, context_length=largest + reply_room - 40)
    report, events = run_fix(user_repo, tight, context_budget=0)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("context compacted" in n for n in notices), notices
    assert report.status == "resolved"
