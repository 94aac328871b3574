"""AGENTS.md through the real `agent fix` path: the prompt block, nested files, the verify command."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from agent.build import fix_run
from agent.config import AgentConfig
from agent.engines.base import Engine
from agent.engines.scripted import ScriptedTurn
from agent.events import RunEvent, ToolFinished
from agent.run.fix import FixRequest
from agent.run.report import RunReport
from tests.recording import RecordingEngine
from tests.repos import BUGGY_MEDIAN, MEDIAN_TESTS, make_repo
from tests.sandboxes import sandboxes

CHECK = """from stats import median

assert median([1, 2, 3, 4]) == 2.5, median([1, 2, 3, 4])
print("custom check ok")
"""
ROOT_AGENTS = "# Working here\n\nKeep functions pure.\n\n## Testing\n\n```sh\npython check.py\n```\n"
LIB_AGENTS = "lib/ code targets Python 3.8: no walrus operator.\n"
PLAN = ScriptedTurn(text="1. Read stats.py\n2. Fix it")
READ = ScriptedTurn(tool_calls=[{"name": "read_file", "arguments": {"path": "stats.py"}}])
EDIT = ScriptedTurn(
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
    ]
)
FINISH = ScriptedTurn(tool_calls=[{"name": "finish", "arguments": {"summary": "fixed the even case"}}])


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    (home / "local-agent").mkdir(parents=True)
    (home / "local-agent" / "AGENTS.md").write_text("Explain each change in one sentence.\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home / "local-agent"


def repo_with(tmp_path: Path, extra: dict[str, str]) -> Path:
    files = {"stats.py": BUGGY_MEDIAN, "test_stats.py": MEDIAN_TESTS, "check.py": CHECK, **extra}
    return make_repo(tmp_path / "repo", files)


def run(repo: Path, engine: Engine, **config: object) -> tuple[RunReport, list[RunEvent]]:
    events: list[RunEvent] = []
    settings = AgentConfig.model_validate({"max_steps": 8, **config})
    report = fix_run(engine, sandboxes(repo, settings), settings, events.append).run(
        FixRequest(task="median of an even-length list is wrong", repo=git.Repo(repo))
    )
    return report, events


def test_agents_md_goes_into_the_prompt_and_its_test_command_verifies(
    tmp_path: Path, user_config: Path
) -> None:
    repo = repo_with(tmp_path, {"AGENTS.md": ROOT_AGENTS, "lib/AGENTS.md": LIB_AGENTS, "lib/x.py": "x = 1\n"})
    engine = RecordingEngine([PLAN, READ, EDIT, FINISH])
    report, events = run(repo, engine)

    assert report.status == "resolved", report
    first_prompt = engine.conversations[0][1].content
    user_at = first_prompt.index("Explain each change in one sentence.")
    root_at = first_prompt.index("Keep functions pure.")
    assert user_at < root_at < first_prompt.index("Issue to fix:")  # the project's rules come later, win
    assert "- lib/AGENTS.md: for files under lib/" in first_prompt
    assert LIB_AGENTS.strip() not in first_prompt
    assert "run_tests runs the project's test command: python check.py" in first_prompt  # for the plan

    verify = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    assert verify and all(v.data["command"] == "python check.py" for v in verify)
    assert "custom check ok" in verify[-1].output and verify[-1].ok
    assert report.tests.command == "python check.py" and report.tests.ok
    assert any("test command from AGENTS.md: `python check.py`" in n for n in report.notices)


def test_a_test_command_the_user_gave_wins_over_agents_md(tmp_path: Path, user_config: Path) -> None:
    repo = repo_with(tmp_path, {"AGENTS.md": ROOT_AGENTS})
    command = "python -m pytest -q -p no:cacheprovider test_stats.py"
    report, events = run(repo, RecordingEngine([PLAN, EDIT, FINISH]), test_command=command)
    verify = [e for e in events if isinstance(e, ToolFinished) and e.name == "run_tests"]
    # the user's command, told to keep collecting past a file that does not import (tools/run_tests.py)
    assert verify[0].data["command"] == command + " --continue-on-collection-errors"
    assert report.tests.passed == 2
    assert not any("test command from" in n for n in report.notices)


def test_nested_instructions_arrive_with_the_first_read_under_their_directory(
    tmp_path: Path, user_config: Path
) -> None:
    repo = repo_with(
        tmp_path,
        {
            "AGENTS.md": ROOT_AGENTS,
            "lib/AGENTS.md": LIB_AGENTS,
            "lib/deep/AGENTS.md": "deep/ files need docstrings.\n",
            "lib/deep/util.py": "def f():\n    return 1\n",
        },
    )
    read_deep = ScriptedTurn(tool_calls=[{"name": "read_file", "arguments": {"path": "lib/deep/util.py"}}])
    read_again = ScriptedTurn(
        tool_calls=[{"name": "read_file", "arguments": {"path": "./lib/deep/util.py", "start_line": 2}}]
    )
    _, events = run(repo, RecordingEngine([PLAN, READ, read_deep, read_again]), max_steps=3)
    reads = [e.output for e in events if isinstance(e, ToolFinished) and e.name == "read_file"]

    assert "Instructions from" not in reads[0]  # stats.py: only the root file applies, already shown
    outer = reads[1].index("[Instructions from lib/AGENTS.md apply to files under lib/")
    inner = reads[1].index("[Instructions from lib/deep/AGENTS.md apply to files under lib/deep/")
    assert outer < inner  # the nearest comes last and takes precedence
    assert LIB_AGENTS.strip() in reads[1] and "deep/ files need docstrings." in reads[1]
    assert "Instructions from" not in reads[2]  # shown once per run


def test_instructions_over_budget_are_reported_and_what_was_kept_is_shown(
    tmp_path: Path, user_config: Path
) -> None:
    rules = "".join(f"- rule {i}: never rename public function number {i}\n" for i in range(300))
    repo = repo_with(tmp_path, {"AGENTS.md": rules})
    engine = RecordingEngine([PLAN, EDIT, FINISH])
    report, _ = run(repo, engine, instructions_budget=300)

    prompt = engine.conversations[0][1].content
    assert "- rule 0: never rename" in prompt and "- rule 299: never rename" not in prompt
    assert "more lines of AGENTS.md were left out to fit the context window" in prompt
    notices = [n for n in report.notices if "project instructions are" in n]
    assert (
        notices
        and "over their budget of 300 tokens" in notices[0]
        and "AGENTS.md: kept lines 1-" in notices[0]
    )
