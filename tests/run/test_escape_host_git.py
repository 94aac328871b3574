"""The host-side escape suite: what the model's commands leave in the worktree must not make the
agent's own code, running on the host, run a program or read or write outside the repository.

Every case is a real `agent fix` (console script, scripted engine, real bubblewrap sandbox) whose
`shell` calls plant the attack in the worktree, where the sandbox lets them write. Each attack
would create a marker outside the repository only if host code ran it (inside the sandbox `/tmp`
is a private tmpfs, so the sandboxed side cannot create it), or would change or copy a file
outside the worktree only if host code wrote or read through a link. Each case asserts that
nothing of the kind happened and that the run still ended with a report, not a traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.cli.headless import report_from_stream
from tests.repos import BUGGY_MEDIAN, MEDIAN_TESTS, git, make_repo

AGENT = [sys.executable, "-m", "agent.cli"]
SECRET = "TOP-SECRET-d41d8cd98f00\n"
CONFIG_SECRET = "config-secret-0f343b0931"

PLAN: dict[str, Any] = {"text": "1. Look around\n2. Fix median"}
TEST: dict[str, Any] = {"tool_calls": [{"name": "run_tests", "arguments": {}}]}
READ: dict[str, Any] = {"tool_calls": [{"name": "read_file", "arguments": {"path": "test_stats.py"}}]}
FIX: dict[str, Any] = {
    "tool_calls": [
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
}
FINISH: dict[str, Any] = {"tool_calls": [{"name": "finish", "arguments": {"summary": "median fixed"}}]}
# the 4th identical test run with no change in between: the attempt is stuck and set aside
STUCK = [TEST, READ, TEST, READ, TEST, READ, TEST]


def shell(command: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]}


@dataclass
class Scene:
    root: Path
    repo: Path
    markers: Path  # a marker here means host code ran what the worktree said
    outside: Path  # a directory outside the repository, holding a secret

    @property
    def secret(self) -> Path:
        return self.outside / "secret.txt"

    def marker(self, name: str) -> str:
        return str(self.markers / name)


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    markers, outside = tmp_path / "markers", tmp_path / "outside"
    markers.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    # a tracked file that is a git config running a marker: written over `.git/config`, it would run
    evil_config = f'[core]\n\tfsmonitor = "touch {markers}/user-config-replaced; false"\n'
    repo = make_repo(
        tmp_path / "user",
        {
            "stats.py": BUGGY_MEDIAN,
            "test_stats.py": MEDIAN_TESTS,
            "README.md": "# stats\n",
            "settings.cfg": evil_config,
            "pkg/mod.py": "VALUE = 1\n",
        },
    )
    git(repo, "config", "agent-test.secret", CONFIG_SECRET)  # the user's config must not be copied
    return Scene(tmp_path, repo, markers, outside)


def run_fix(scene: Scene, turns: list[dict[str, Any]], *flags: str) -> dict[str, Any]:
    """One `agent fix --json` run; asserts it ended with a report of ours (no traceback, no
    internal error) and returns that report."""
    script = scene.root / "script.json"
    script.write_text(json.dumps([PLAN, *turns]))
    env = {**os.environ, "XDG_CONFIG_HOME": str(scene.root / "xdg")}
    command = ["--repo", str(scene.repo), "fix", "median of an even-length list is wrong"]
    result = subprocess.run(
        [*AGENT, *command, "--script", str(script), "--json", "--repair", "off", *flags],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    report = report_from_stream(result.stdout)
    assert report["stop_reason"] != "internal_error", report["notices"]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return report


def assert_contained(scene: Scene, config_before: bytes) -> None:
    """Nothing ran, was written or was read outside the repository."""
    git(scene.repo, "status")  # the user's next git: runs what a replaced .git/config would say
    assert sorted(p.name for p in scene.markers.iterdir()) == []
    assert (scene.repo / ".git" / "config").read_bytes() == config_before
    assert sorted(p.name for p in scene.outside.iterdir()) == ["secret.txt"]
    assert scene.secret.read_text() == SECRET
    for path in (scene.repo / ".git" / ".agent").rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()
            assert SECRET.strip().encode() not in text, path
            assert CONFIG_SECRET.encode() not in text, path


def config_of(scene: Scene) -> bytes:
    return (scene.repo / ".git" / "config").read_bytes()


def nested_repository(where: str, kind: str, marker: str) -> str:
    """Sandboxed commands making `where` a git repository whose own settings would run `marker`
    when git runs in it on the host. It then holds a change of the same size (git must read the
    file, through its clean filter) and a file whose only change is its time (`git status` then
    rewrites its index: the post-index-change hook)."""
    touch = f"touch {shlex.quote(marker)} 2>/dev/null; true"  # in the sandbox the marker's dir is not there
    steps = [f"git init -q {shlex.quote(where)}", f"cd {shlex.quote(where)}", "echo one > f", "echo same > g"]
    if kind == "fsmonitor":
        steps.append(f"git config core.fsmonitor {shlex.quote(touch + '; false')}")
    elif kind == "hooksPath":
        hooks = ["post-index-change", "pre-commit", "post-commit", "reference-transaction", "post-checkout"]
        script = shlex.quote(f"#!/bin/sh\n{touch}\n")
        steps += [
            "mkdir hooks",
            *[f"printf {script} > hooks/{hook} && chmod +x hooks/{hook}" for hook in hooks],
        ]
        steps.append('git config core.hooksPath "$PWD/hooks"')
    elif kind == "filter":
        steps.append("echo '* filter=evil' > .gitattributes")
        for command in ("clean", "smudge"):
            steps.append(
                f"git config filter.evil.{command} {shlex.quote(f'sh -c {shlex.quote(touch)}; cat')}"
            )
    elif kind == "include":
        steps.append(f"printf '[core]\\n\\tfsmonitor = \"%s\"\\n' {shlex.quote(touch + '; false')} > inc.cfg")
        steps.append('git config include.path "$PWD/inc.cfg"')
    steps += ["git add -A", "git -c user.name=a -c user.email=b commit -qm one"]
    steps += ["echo two > f", "touch -d 2001-01-01 g"]
    return " && ".join(steps)


@pytest.mark.parametrize("kind", ["fsmonitor", "hooksPath", "filter", "include"])
@pytest.mark.parametrize("where", ["sub", "a/b/c"])
def test_a_nested_repository_runs_nothing_on_the_host(scene: Scene, kind: str, where: str) -> None:
    before = config_of(scene)
    plant = nested_repository(where, kind, scene.marker(f"{kind}-ran-on-the-host"))
    report = run_fix(scene, [shell(plant), shell(f"echo six > {where}/f"), FIX, TEST, FINISH])
    assert_contained(scene, before)
    assert report["status"] == "resolved"
    removed = f"removed nested git repository {where}/.git"
    assert any(removed in notice for notice in report["notices"]), report["notices"]
    assert f"{where}/f" in report["files_changed"]  # its files are kept, as plain files
    assert "Subproject commit" not in report["diff"]


def test_a_gitfile_pointing_at_a_repository_elsewhere_is_removed(scene: Scene) -> None:
    before = config_of(scene)
    touch = f"touch {shlex.quote(scene.marker('gitfile-ran'))}; false"
    plant = (
        'mkdir store && git init -q --separate-git-dir="$PWD/store/sub.git" sub && cd sub && echo one > f && '
        f"git config core.fsmonitor {shlex.quote(touch)} && git add -A && "
        "git -c user.name=a -c user.email=b commit -qm one && echo two >> f"
    )
    report = run_fix(scene, [shell(plant), shell("echo three >> sub/f"), FIX, TEST, FINISH])
    assert_contained(scene, before)
    assert any("removed nested git repository sub/.git" in n for n in report["notices"])


def test_the_model_is_told_which_repository_was_removed(scene: Scene) -> None:
    plant = nested_repository("vendor/lib", "fsmonitor", scene.marker("told"))
    run_fix(scene, [shell(plant), FIX, TEST, FINISH])
    sessions = scene.repo / ".git" / ".agent" / "sessions"
    trajectory = next(sessions.glob("*.jsonl")).read_text()
    shells = [json.loads(line) for line in trajectory.splitlines() if '"name":"shell"' in line]
    finished = [event["output"] for event in shells if event["kind"] == "tool_finished"]
    told = "[removed nested git repository vendor/lib/.git: the agent's worktree may not hold nested "
    assert len(finished) == 1 and told in finished[0], finished


def test_a_link_to_a_file_outside_is_set_aside_without_reading_or_writing_it(scene: Scene) -> None:
    before = config_of(scene)
    plant = (
        f"rm stats.py README.md && ln -s {scene.secret} stats.py && ln -s {scene.outside}/created README.md"
    )
    report = run_fix(scene, [shell(plant), *STUCK])
    assert_contained(scene, before)
    assert report["attempts"] >= 2


def test_a_relative_link_to_the_users_git_config_is_set_aside_without_writing_it(scene: Scene) -> None:
    before = config_of(scene)
    plant = "rm settings.cfg && ln -s ../../../config settings.cfg && ls -l settings.cfg"
    report = run_fix(scene, [shell(plant), *STUCK])
    assert_contained(scene, before)
    assert report["attempts"] >= 2


def test_a_link_in_place_of_a_directory_is_not_followed(scene: Scene) -> None:
    before = config_of(scene)
    report = run_fix(scene, [shell(f"rm -r pkg && ln -s {scene.outside} pkg"), *STUCK])
    assert_contained(scene, before)
    assert report["attempts"] >= 2


def test_a_link_brought_back_by_restore_is_not_read(scene: Scene) -> None:
    """Attempt 1 adds a link to the secret and is set aside; no later attempt does better, so the
    run brings attempt 1 back (restore) and journals what it changed."""
    before = config_of(scene)
    plant = f"ln -s {scene.secret} leak.txt && echo '# wip' >> stats.py"
    report = run_fix(scene, [shell(plant), *STUCK])
    assert_contained(scene, before)
    assert report["attempts"] >= 2 and "leak.txt" in report["files_changed"]
    assert any("kept the change of attempt 1" in n for n in report["notices"]), report["notices"]


def test_a_link_committed_is_committed_as_a_link(scene: Scene) -> None:
    before = config_of(scene)
    report = run_fix(
        scene, [shell(f"rm stats.py && ln -s {scene.secret} stats.py"), READ], "--max-steps", "2"
    )
    assert_contained(scene, before)
    assert report["commit"] and report["files_changed"] == ["stats.py"]
    listed = git(scene.repo, "ls-tree", str(report["branch"]), "stats.py")
    assert listed.startswith("120000 ")  # a symbolic link, its target's bytes never read
    assert git(scene.repo, "cat-file", "-p", f"{report['branch']}:stats.py") == str(scene.secret)


def test_a_directory_in_place_of_a_file_is_set_aside(scene: Scene) -> None:
    before = config_of(scene)
    report = run_fix(scene, [shell("rm stats.py && mkdir stats.py && echo x > stats.py/inner.txt"), *STUCK])
    assert_contained(scene, before)
    assert report["attempts"] >= 2


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("FIFO", "mkfifo README.md"),
        ("socket", f"{sys.executable} -c \"import socket; socket.socket(socket.AF_UNIX).bind('README.md')\""),
    ],
)
def test_a_special_file_in_place_of_a_file_is_removed_not_a_crash(scene: Scene, kind: str, make: str) -> None:
    before = config_of(scene)
    report = run_fix(scene, [shell(f"rm README.md && {make}"), *STUCK])
    assert_contained(scene, before)
    assert any(f"removed {kind} README.md" in n for n in report["notices"]), report["notices"]


def test_a_file_name_that_is_not_utf8_is_no_crash(scene: Scene) -> None:
    before = config_of(scene)
    plant = "printf 'caf\\351 = 1\\n' > \"$(printf 'caf\\351.py')\" && printf '# \\351\\n' >> stats.py"
    report = run_fix(scene, [shell(plant), *STUCK])
    assert_contained(scene, before)
    assert "caf\ufffd.py" in report["files_changed"]


def test_a_fifo_where_git_reads_its_rules_does_not_hang_the_run(scene: Scene) -> None:
    """git opens `.gitignore` and `.gitattributes` in the directories it visits: a FIFO there would
    keep it waiting forever."""
    before = config_of(scene)
    plant = (
        "mkdir newdir && echo 'A = 1' > newdir/a.py && mkfifo newdir/.gitignore .gitattributes pkg/.gitignore"
    )
    report = run_fix(scene, [shell(plant), FIX, TEST, FINISH])
    assert_contained(scene, before)
    assert report["status"] == "resolved" and "newdir/a.py" in report["files_changed"]
    for rel in ("newdir/.gitignore", ".gitattributes", "pkg/.gitignore"):
        assert any(f"removed FIFO {rel}:" in n for n in report["notices"]), report["notices"]
