"""What a repository or a model may hold that once crashed the agent: file names that are not UTF-8,
JSON nested 100,000 deep, lone surrogates and NUL characters in tool arguments, NaN and infinite
numbers in flags and config files, a regular expression that backtracks for ever.

Each one now ends as a clear message: an observation the model can act on (a tool call), or a
usage error with exit code 2 (a flag or a setting). Everything runs through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli.headless import report_from_stream
from agent.events import RUN_EVENT_ADAPTER, ModelError, RunFinished, ToolFinished
from tests.paths import MEDIAN_SCRIPT
from tests.repos import git, median_repo, snapshot

AGENT = [sys.executable, "-m", "agent.cli"]
SCRIPT = MEDIAN_SCRIPT
BAD_NAME = os.fsdecode(b"bad\xff.py")  # a file name that is not valid UTF-8


def agent(
    args: list[str], cwd: Path, timeout: float = 300, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | (extra_env or {})
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def median_fix_after(turns: list[dict[str, object]], path: Path) -> Path:
    """The median fix script, with `turns` (the model's mistakes) played first."""
    script = json.loads(SCRIPT.read_text())
    path.write_text(json.dumps([script[0], *turns, *script[1:]]))
    return path


def fix_events(result: subprocess.CompletedProcess[str]) -> list[object]:
    return [RUN_EVENT_ADAPTER.validate_json(line) for line in result.stdout.splitlines()]


# ---- file names that are not UTF-8 --------------------------------------------------------------


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    repo = median_repo(tmp_path / "r")
    (repo / BAD_NAME).write_text("def odd():\n    return 1\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / os.fsdecode(b"caf\xe9.py")).write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "names that are not UTF-8")
    return repo


def test_fix_in_a_repository_with_file_names_that_are_not_utf8(odd_names: Path, tmp_path: Path) -> None:
    """The run packs its context, lists, searches and reports; the odd names are named, not opened.
    (Committing a change next to such a name is the workspace's: gitpython's index cannot read it.)"""
    before = snapshot(odd_names)
    look = [
        {"text": "1. Look around"},
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"tool_calls": [{"name": "search", "arguments": {"pattern": "def "}}]},
        {"tool_calls": [{"name": "finish", "arguments": {"summary": "nothing to change"}}]},
    ]
    script = tmp_path / "look.json"
    script.write_text(json.dumps(look))
    result = agent(
        ["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], odd_names
    )
    no_traceback(result)
    assert result.returncode == 1, result.stderr[-3000:]
    events = fix_events(result)
    assert isinstance(events[-1], RunFinished) and events[-1].report["status"] == "no_change"
    assert events[-1].exit_code == 1
    assert "2 file names that are not valid UTF-8 were skipped" in result.stdout  # the context notice
    outputs = {e.name: e.output for e in events if isinstance(e, ToolFinished)}
    assert "not listed: bad\\xff.py, pkg/caf\\xe9.py" in outputs["list_files"]
    assert "stats.py:1: def median(xs):" in outputs["search"]
    assert snapshot(odd_names) == before


def test_context_and_list_files_skip_names_that_are_not_utf8_and_say_so(odd_names: Path) -> None:
    context = agent(["context", "median of an even-length list is wrong", "--json"], odd_names)
    no_traceback(context)
    assert context.returncode == 0, context.stderr[-3000:]
    manifest = json.loads(context.stdout)
    assert manifest["index"]["undecodable_skipped"] == 2
    assert "stats.py" in {f["path"] for f in manifest["files"]}
    assert "2 file names that are not valid UTF-8 were skipped" in context.stderr
    listed = agent(["tool", "list_files", "--json"], odd_names)
    no_traceback(listed)
    assert listed.returncode == 0, listed.stderr[-3000:]
    data = json.loads(listed.stdout)["result"]["data"]
    assert data["files"] == ["README.md", "stats.py", "test_stats.py"]
    assert data["undecodable"] == ["bad\\xff.py", "pkg/caf\\xe9.py"]
    text = agent(["tool", "list_files"], odd_names).stdout
    assert "2 files whose names are not valid UTF-8 are not listed: bad\\xff.py, pkg/caf\\xe9.py" in text
    found = agent(["tool", "search", "--args", '{"pattern": "return"}'], odd_names)
    assert found.returncode == 0 and "stats.py:4:" in found.stdout and "bad" not in found.stdout


# ---- JSON nested 100,000 deep ---------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_in_a_models_calls_is_an_observation(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    turns: list[dict[str, object]] = [
        {"tool_calls": [{"name": "read_file", "arguments": '{"path": ' + DEEP + "}"}]},
        {"raw": '<tool_call>\n{"name": "read_file", "arguments": {"path": ' + DEEP + "}}\n</tool_call>"},
        {"raw": '{"name": "search", "arguments": {"pattern": ' + DEEP + "}}"},
    ]
    script = median_fix_after(turns, tmp_path / "deep.json")
    result = agent(["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], repo)
    no_traceback(result)
    assert result.returncode == 0, result.stderr[-3000:]
    report = report_from_stream(result.stdout)
    assert report["status"] == "resolved" and report["model_errors"].get("parse_error") == 3
    seen = [e.output for e in fix_events(result) if isinstance(e, ToolFinished) and not e.ok]
    assert sum("nested more than 64 levels deep" in output for output in seen) == 3, seen


def test_deeply_nested_json_in_args_is_a_clear_error(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    deep = "[" * 60_000 + "]" * 60_000  # one command-line argument holds at most 128 KiB
    result = agent(["tool", "read_file", "--args", '{"path": ' + deep + "}"], repo)
    no_traceback(result)
    assert result.returncode == 1 and "nested more than 64 levels deep" in result.stdout
    outer = agent(["tool", "read_file", "--args", deep], repo)
    assert outer.returncode == 1 and "nested more than 64 levels deep" in outer.stdout


# ---- lone surrogates and NUL characters in arguments ----------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("read_file", '{"path": "a\\udcff.py"}', "path: a lone surrogate (\\udcff)"),
        ("search", '{"pattern": "x\\ud800"}', "pattern: a lone surrogate (\\ud800)"),
        ("list_files", '{"pattern": "\\udfff*"}', "pattern: a lone surrogate (\\udfff)"),
        ("shell", '{"command": "echo a\\u0000b"}', "command: a NUL character"),
        ("search", '{"pattern": "a\\u0000"}', "pattern: a NUL character"),
        ("create_file", '{"path": "n.py", "content": "x\\udcff"}', "content: a lone surrogate"),
        ("edit_file", '{"path": "stats.py", "old_text": "\\u0000", "new_text": "y"}', "old_text: a NUL"),
    ],
)
def test_surrogates_and_nul_characters_in_arguments_are_refused(
    tmp_path: Path, tool: str, arguments: str, message: str
) -> None:
    repo = median_repo(tmp_path / "r")
    before = snapshot(repo)
    text = agent(["tool", tool, "--args", arguments], repo)
    no_traceback(text)
    assert text.returncode == 1 and message in text.stdout, text.stdout
    structured = agent(["tool", tool, "--args", arguments, "--json"], repo)
    no_traceback(structured)
    assert json.loads(structured.stdout)["error"] == "schema"
    assert snapshot(repo) == before


def test_surrogates_and_nul_characters_in_a_models_calls_are_observations(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    turns: list[dict[str, object]] = [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "stats\udcff.py"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "cat stats.py\u0000"}}]},
        {"tool_calls": [{"name": "search", "arguments": '{"pattern": "median\\udcff"}'}]},
        {"raw": '<tool_call>\n{"name": "read_file", "arguments": {"path": "x\\ud800.py"}}\n</tool_call>'},
    ]
    script = median_fix_after(turns, tmp_path / "odd.json")
    result = agent(["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], repo)
    no_traceback(result)
    assert result.returncode == 0, result.stderr[-3000:]
    events = fix_events(result)
    failed = [e.output for e in events if isinstance(e, ToolFinished) and not e.ok]
    assert any("path: a lone surrogate (\\udcff)" in out for out in failed), failed
    assert any("command: a NUL character" in out for out in failed), failed
    assert any("pattern: a lone surrogate" in out for out in failed), failed
    assert any("file not found: x\ufffd.py" in out for out in failed), failed  # the format's repair
    assert isinstance(events[-1], RunFinished) and events[-1].report["status"] == "resolved"
    sessions = agent(["sessions"], repo)
    assert sessions.returncode == 0 and "resolved" in sessions.stdout  # the trajectory was written


# ---- NaN, infinite and negative numbers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-minutes", "nan"], "max_minutes = nan"),
        (["--max-minutes", "inf"], "max_minutes = inf"),
        (["--max-minutes", "-5"], "max_minutes = -5.0"),
        (["--max-steps", "-1"], "max_steps = -1"),
        (["--ctx", "-4096"], "n_ctx = -4096"),
    ],
)
def test_nan_infinite_and_negative_flags_are_usage_errors(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    repo = median_repo(tmp_path / "r")
    result = agent(["fix", "median is wrong", "--script", str(SCRIPT), "--json", *flags], repo)
    no_traceback(result)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    last = RUN_EVENT_ADAPTER.validate_json(result.stdout.splitlines()[-1])
    assert isinstance(last, RunFinished) and last.exit_code == 2 and message in (last.error or "")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("command_timeout = inf", "command_timeout = inf"),
        ("command_timeout = nan", "command_timeout = nan"),
        ("max_minutes = -inf", "max_minutes = -inf"),
        ("temperature = nan", "temperature = nan"),
        ("[sandbox]\nsetup_timeout = nan", "sandbox.setup_timeout = nan"),
        ("[sandbox.limits]\ncpu_seconds = -1", "sandbox.limits.cpu_seconds = -1"),
        ("[sandbox.limits]\naddress_space_bytes = -1", "sandbox.limits.address_space_bytes = -1"),
        ("[web_fetch]\ntimeout = inf", "web_fetch.timeout = inf"),
    ],
)
def test_nan_infinite_and_negative_config_values_are_config_errors(
    tmp_path: Path, setting: str, message: str
) -> None:
    """In the user's own config file (trusted: every key applies) a bad number is a config error."""
    repo = median_repo(tmp_path / "r")
    config_home = tmp_path / "config"
    (config_home / "local-agent").mkdir(parents=True)
    (config_home / "local-agent" / "config.toml").write_text(setting + "\n")
    for args in (
        ["tool", "shell", "--args", '{"command": "true"}'],
        ["fix", "median is wrong", "--script", str(SCRIPT)],
    ):
        result = agent(args, repo, extra_env={"XDG_CONFIG_HOME": str(config_home)})
        no_traceback(result)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("temperature = nan", "temperature = nan"),
        ("max_minutes = -inf", "max_minutes = -inf"),
        ("command_timeout = inf", "ignored command_timeout"),
        ("[sandbox]\nsetup_timeout = nan", "ignored sandbox.setup_timeout"),
        ("[sandbox.limits]\ncpu_seconds = -1", "sandbox.limits.cpu_seconds = -1"),
        ("[web_fetch]\ntimeout = inf", "ignored web_fetch.timeout"),
    ],
)
def test_bad_numbers_in_a_project_file_are_refused_or_ignored(
    tmp_path: Path, setting: str, message: str
) -> None:
    """An untrusted project file: a key it may set is checked (exit 2); a key only a trusted file
    may set is never applied, so its value is ignored with a notice, never used."""
    repo = median_repo(tmp_path / "r")
    (repo / ".agent.toml").write_text(setting + "\n")
    result = agent(["tool", "shell", "--args", '{"command": "true"}'], repo)
    no_traceback(result)
    assert message in result.stderr, result.stderr
    assert result.returncode == (0 if message.startswith("ignored") else 2), result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        *(
            (
                ["sandbox", "--sandbox", "none", "--timeout", value, "--", "true"],
                "argument --timeout: must be",
            )
            for value in ("nan", "inf", "-1", "0")
        ),
        (["models", "fit", "m.gguf", "--ram", "nan"], "argument --ram: must be a finite number"),
        (["models", "fit", "m.gguf", "--vram=-inf"], "argument --vram: must be a finite number"),
        (["models", "fit", "m.gguf", "--ctx", "-4096"], "argument --ctx: must be a whole number above 0"),
        (["models", "fit", "m.gguf", "--parallel", "0"], "argument --parallel: must be a whole number"),
    ],
)
def test_nan_infinite_and_negative_flags_of_other_commands(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = agent(args, tmp_path)
    no_traceback(result)
    assert result.returncode == 2 and message in result.stderr, result.stderr


# ---- a regular expression that backtracks for ever -----------------------------------------------


def test_a_catastrophic_regex_stops_at_the_search_time_limit(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    (repo / "data.txt").write_text("a" * 5_000 + "!\n")
    started = time.monotonic()
    result = agent(["tool", "search", "--args", '{"pattern": "(a+)+$"}'], repo)
    elapsed = time.monotonic() - started
    no_traceback(result)
    assert result.returncode == 1 and "took longer than 10 seconds" in result.stdout, result.stdout
    assert "Nested repeats such as (a+)+" in result.stdout
    assert elapsed < 30
    normal = agent(["tool", "search", "--args", '{"pattern": "def \\\\w+"}'], repo)
    assert normal.returncode == 0 and "stats.py:1: def median(xs):" in normal.stdout


def test_a_model_error_names_the_search_time_limit(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    (repo / "data.txt").write_text("a" * 5_000 + "!\n")
    git(repo, "add", "data.txt")
    git(repo, "commit", "-q", "-m", "data")  # the run's worktree holds what is committed
    turns: list[dict[str, object]] = [
        {"tool_calls": [{"name": "search", "arguments": {"pattern": "(a+)+$"}}]}
    ]
    script = median_fix_after(turns, tmp_path / "slow.json")
    result = agent(["fix", "median of an even-length list is wrong", "--script", str(script), "--json"], repo)
    assert result.returncode == 0, result.stderr[-3000:]
    events = fix_events(result)
    assert any(isinstance(e, ToolFinished) and "took longer than 10 seconds" in e.output for e in events)
    assert not any(isinstance(e, ModelError) and e.category == "tool_crash" for e in events)


def test_a_task_and_a_summary_that_are_not_text_still_end_in_a_commit(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in the task argument, a surrogate and a NUL in finish's summary:
    the change is still committed (the commit message could not be encoded) and reported."""
    repo = median_repo(tmp_path / "r")
    script = json.loads(SCRIPT.read_text())
    script[-1]["tool_calls"][0]["arguments"]["summary"] = "median \udcff averages\u0000 the pair"
    path = tmp_path / "odd_summary.json"
    path.write_text(json.dumps(script))
    task = os.fsdecode(b"median of an even-length list is wrong \xff")
    result = agent(["fix", task, "--script", str(path), "--json"], repo)
    no_traceback(result)
    assert result.returncode == 0, result.stderr[-3000:]
    report = report_from_stream(result.stdout)
    assert report["status"] == "resolved" and report["task"].endswith("wrong \ufffd")
    message = git(repo, "log", "-1", "--format=%B", report["branch"])
    assert "median \ufffd averages the pair" in message


def test_an_issue_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    issue = tmp_path / "issue.md"
    issue.write_bytes(b"median is wrong \xff\n")
    result = agent(["fix", "--issue-file", str(issue), "--script", str(SCRIPT), "--json"], repo)
    no_traceback(result)
    assert result.returncode == 2 and "is not UTF-8 text" in result.stderr
    last = RUN_EVENT_ADAPTER.validate_json(result.stdout.splitlines()[-1])
    assert isinstance(last, RunFinished) and last.exit_code == 2
