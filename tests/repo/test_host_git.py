"""agent/repo/host_git.py against real git: each setting that would run a program is shown to run
it with plain git, then shown not to run it through HostGit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.repo.host_git import HostGit, HostGitError, display_path
from tests.repos import GIT, git, make_repo


def marker_command(markers: Path, name: str) -> str:
    return f"sh -c 'touch {markers}/{name}; cat'"


def ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path, markers: Path) -> Path:
    """A repository whose own config defines a filter, a textconv, an external diff, fsmonitor and
    hooks that would each leave a marker; its tracked `.gitattributes` selects them."""
    attributes = "*.txt filter=evil diff=evil\n*.md filter=plain\n"
    root = make_repo(tmp_path / "repo", {".gitattributes": attributes, "a.txt": "one\n", "b.md": "one\n"})
    for key, name in [
        ("filter.plain.clean", "clean"),
        ("filter.plain.smudge", "smudge"),
        ("filter.evil.clean", "clean"),
        ("filter.evil.smudge", "smudge"),
        ("filter.evil.process", "process"),
        ("diff.evil.textconv", "textconv"),
        ("diff.evil.command", "diff-command"),
    ]:
        git(root, "config", key, marker_command(markers, name))
    git(root, "config", "core.fsmonitor", f"touch {markers}/fsmonitor; false")
    for hook in ("pre-commit", "post-commit", "reference-transaction", "post-checkout", "post-index-change"):
        path = root / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        path.chmod(0o755)
    return root


def test_plain_git_runs_what_the_repository_config_and_attributes_say(repo: Path, markers: Path) -> None:
    """The setup is live: without isolation these commands do run the planted programs."""
    (repo / "a.txt").write_text("two\n")
    (repo / "b.md").write_text("two\n")
    git(repo, "add", "-A")
    git(repo, "diff", "--cached", "HEAD")
    git(repo, "commit", "-qm", "two")
    git(repo, "checkout", "HEAD~1", "--", "b.md")
    assert {
        "clean",
        "smudge",
        "process",
        "fsmonitor",
        "diff-command",
        "hook-pre-commit",
        "hook-reference-transaction",
    } <= set(ran(markers)), ran(markers)


def test_host_git_runs_no_filter_diff_driver_fsmonitor_or_hook(repo: Path, markers: Path) -> None:
    host = HostGit(repo)
    (repo / "a.txt").write_text("two\n")
    (repo / "b.md").write_text("two\n")
    host.run("add", "-A")
    host.run("diff", "--cached", "HEAD")  # textconv and an external diff, were they honoured
    host.run("diff", "HEAD")
    tree = host.text("write-tree")
    committing = HostGit(repo, settings=[("user.name", "t"), ("user.email", "t@localhost")])
    commit = committing.text("commit-tree", tree, "-p", "HEAD", stdin=b"two\n")
    committing.run("update-ref", "-m", "two", "HEAD", commit)
    host.run("read-tree", "-u", "--reset", "HEAD~1")  # smudge, post-checkout
    host.run("checkout", "HEAD", "--", "a.txt")
    assert ran(markers) == []
    assert (repo / "a.txt").read_text() == "two\n"
    assert git(repo, "log", "--format=%an %s", "-1").strip() == "t two"


def test_settings_reach_the_git_a_nested_repository_is_asked_about(tmp_path: Path, markers: Path) -> None:
    """`git add` runs `git status` in a gitlink's repository; the isolation settings reach it
    (GIT_CONFIG_COUNT is passed on), so its fsmonitor does not run. A filter driver of its own
    would still run: that is why nested repositories are removed (agent/repo/strays.py)."""
    root = make_repo(tmp_path / "outer", {"a.txt": "a\n"})
    nested = root / "sub"
    nested.mkdir()
    git(nested, "init", "-q")
    (nested / "f").write_text("x\n")
    git(nested, "add", "-A")
    git(nested, "commit", "-qm", "one")
    git(root, "add", "-A")  # the gitlink is in the index now
    git(nested, "config", "core.fsmonitor", f"touch {markers}/nested-fsmonitor; false")
    (nested / "f").write_text("y\n")
    HostGit(root).run("add", "-A")
    assert ran(markers) == []
    git(root, "add", "-A")
    assert ran(markers) == ["nested-fsmonitor"]


def test_the_users_global_config_is_not_read_but_its_ignore_rules_are(
    tmp_path: Path, markers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ignored-globally").write_text("*.log\n")
    (home / ".gitconfig").write_text(
        f'[core]\n\tfsmonitor = "touch {markers}/global-fsmonitor; false"\n'
        f"\texcludesFile = {home}/ignored-globally\n"
    )
    root = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (root / "debug.log").write_text("noise\n")
    (root / "b.txt").write_text("b\n")
    host = HostGit(root)
    host.run("add", "-A")
    assert ran(markers) == []
    assert host.paths("diff", "--cached", "--name-only", "-z", "HEAD") == ["b.txt"]


def test_git_variables_we_inherit_do_not_redirect_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    other = make_repo(tmp_path / "other", {"b.txt": "b\n"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere-index"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='touch /nonexistent'")
    host = HostGit(root, root / ".git")
    assert host.paths("ls-files", "-z") == ["a.txt"]


def test_a_failing_command_says_what_git_said(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    with pytest.raises(HostGitError, match="exit code 128"):
        HostGit(root).run("rev-parse", "--verify", "no-such-ref")
    assert HostGit(root).status("diff", "--quiet", "HEAD") == 0


def test_no_network_transport_from_the_worktree(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    bare = tmp_path / "remote.git"
    subprocess.run([*GIT, "init", "-q", "--bare", str(bare)], check=True)
    git(root, "remote", "add", "origin", str(bare))
    with pytest.raises(HostGitError, match="transport 'file' not allowed"):
        HostGit(root).run("push", "origin", "HEAD:refs/heads/x")
    HostGit(root, user_config=True).run("push", "origin", "HEAD:refs/heads/x")  # a push may


def test_paths_that_are_not_utf8_are_shown_printable() -> None:
    assert display_path(b"caf\xe9.py".decode("utf-8", "surrogateescape")) == "caf\ufffd.py"
    assert display_path("plain/é.py") == "plain/é.py"
