"""The agent's own git worktree and branch: the user's checkout is never touched.

A task runs in `<git-dir>/.agent/worktrees/<session>` on branch `agent/<slug>`, created from the
user's HEAD. When the run ends the worktree is removed; the branch (and a patch file) keep the
change until the user applies it with `agent apply` (or `agent fix --apply`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import git

from agent.errors import UserError
from agent.repo.changes import changes_against
from agent.repo.dirs import agent_dir
from agent.repo.host_git import HostGit, HostGitError, display_path
from agent.repo.journal import EditJournal
from agent.repo.strays import remove_strays, unreadable_paths

AGENT_NAME, AGENT_EMAIL = "local-agent", "agent@localhost"
LIVE_TIMEOUT = 30.0  # seconds for one git command of the TUI's live view
AGENT_AUTHOR = git.Actor(AGENT_NAME, AGENT_EMAIL)


class WorkspaceError(UserError):
    """A git problem the user must fix (not a repository, no commit yet, apply conflict...)."""


def slugify(text: str, max_len: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "-".join(words)[:max_len].strip("-")
    return slug or "task"


def open_repo(path: Path) -> git.Repo:
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise WorkspaceError(
            f"{path} is not inside a git repository: run `git init && git add -A && git commit -m init` "
            "first, or pass --repo PATH"
        ) from exc
    if repo.bare:
        raise WorkspaceError(f"{path} is a bare repository: run the agent inside a checkout")
    try:
        _ = repo.head.commit
    except ValueError as exc:
        raise WorkspaceError("the repository has no commit yet: commit your code first") from exc
    return repo


def _free_branch_name(repo: git.Repo, base: str) -> str:
    existing = {head.name for head in repo.heads}
    if base not in existing:
        return base
    n = 2
    while f"{base}-{n}" in existing:
        n += 1
    return f"{base}-{n}"


def _ignore(_message: str) -> None:
    return None


@dataclass
class Workspace:
    """The agent's worktree. All git run in it goes through `git` (agent/repo/host_git.py), and the
    tree is swept of nested repositories and special files (agent/repo/strays.py) before git
    stages it; `notify` hears of each removal."""

    repo: git.Repo  # the user's repository
    path: Path  # the agent's worktree
    branch: str
    base_commit: str
    git_dir: Path | None = None  # the worktree's own git dir, read when it was made
    notify: Callable[[str], None] = _ignore
    _aside: dict[str, str] = field(default_factory=dict)  # a set-aside diff -> the tree it came from
    kept_tree: str | None = None  # what set_aside goes back to once part of the change is kept (keep)

    @classmethod
    def create(cls, repo: git.Repo, session_id: str, task: str) -> Workspace:
        branch = _free_branch_name(repo, f"agent/{slugify(task)}")
        path = agent_dir(repo) / "worktrees" / session_id
        path.parent.mkdir(parents=True, exist_ok=True)
        base = repo.head.commit.hexsha
        # the user's git and config: the user's own commit is checked out (their smudge filters
        # apply), before any command of the model has run
        repo.git.worktree("add", "--quiet", "-b", branch, str(path), base)
        git_dir = Path(git.Repo(path).git_dir).resolve()
        return cls(repo=repo, path=path, branch=branch, base_commit=base, git_dir=git_dir)

    @cached_property
    def git(self) -> HostGit:
        return HostGit(self.path, self.git_dir)

    def _stage(self) -> None:
        """Everything in the worktree into the index (`git add -A`), strays removed first."""
        sweep = remove_strays(self.git)
        for message in sweep.messages:
            self.notify(message)
        skip = [f":(exclude,literal){rel}" for rel in sorted(sweep.left)]
        # --ignore-errors: a file git cannot read is left out, not the whole change
        self.git.run("add", "-A", "--ignore-errors", "--", ".", *skip, ok_codes=(0, 1))

    def diff_bytes(self) -> bytes:
        """The agent's change against the base commit, new files included: a patch `git apply` takes."""
        self._stage()
        return self.git.run("diff", "--cached", "--binary", self.base_commit, "--")

    def diff(self) -> str:
        """`diff_bytes` as text (bytes that are not UTF-8 shown as U+FFFD)."""
        return self.diff_bytes().decode("utf-8", "replace")

    def changed_files(self) -> list[str]:
        self._stage()
        listed = self.git.paths("diff", "--cached", "--name-only", "-z", self.base_commit, "--")
        return [display_path(path) for path in listed]

    def keep(self) -> None:
        """What the tree holds now stays in every later attempt (a verified reproduction test):
        set_aside goes back to it instead of the base commit. The diff is still the whole change."""
        self._stage()
        self.kept_tree = self.git.text("write-tree")

    @property
    def start(self) -> str:
        """The tree a set-aside change goes back to: the base commit's, or the kept one."""
        return self.kept_tree or self.base_commit

    def changes(self) -> list[tuple[str, str | None, str | None]]:
        """(path, text at the start, text now) of each changed file, read from what git staged
        (never through a link); None where a side is missing or not text."""
        self._stage()
        return [(c.path, c.base, c.now) for c in changes_against(self.git, self.start)]

    def set_aside(self, journal: EditJournal | None = None) -> str:
        """Put every changed file back as it is at the start (`start`); returns the diff set aside.

        git itself puts the tree back (`read-tree -u --reset`): it replaces a link, directory or
        FIFO standing where a file was and never writes through a link. Each text file put back
        is journaled (tool `new_attempt`) from what git staged, never read from the tree, so
        `agent undo` can bring the set-aside version back."""
        diff = self.diff()
        self._aside[diff] = self.git.text("write-tree")
        changes = changes_against(self.git, self.start)
        self.git.run("read-tree", "-u", "--reset", self.start)
        if journal is not None:
            for change in changes:
                if change.journaled:  # a binary file or a link is put back, not journaled
                    journal.record("new_attempt", change.path, change.now, change.base)
        return diff

    def restore(self, diff: str, journal: EditJournal | None = None) -> None:
        """Bring back a diff `set_aside` returned, on the tree as it is at the base commit; each
        text file it changes is journaled (tool `restore_attempt`)."""
        tree = self._aside.get(diff) or self._tree_with(diff)
        self._stage()
        self.git.run("read-tree", "-u", "--reset", tree)
        if journal is not None:
            for change in changes_against(self.git, self.start):
                if change.journaled:
                    journal.record("restore_attempt", change.path, change.base, change.now)

    def _tree_with(self, diff: str) -> str:
        """The base commit's tree with `diff` applied, built in a private index (no file is read)."""
        with tempfile.TemporaryDirectory(prefix="agent-restore-") as tmp:
            private = self.git.with_index(Path(tmp) / "index")
            private.run("read-tree", self.base_commit)
            patch = diff.encode("utf-8", "surrogateescape")
            private.run("apply", "--cached", "--binary", "--whitespace=nowarn", "-", stdin=patch)
            return private.text("write-tree")

    def commit(self, message: str) -> str | None:
        """Commit everything in the worktree on the agent's branch; None when nothing changed.
        Plumbing only: no hook, no signing, no editor."""
        self._stage()
        if self.git.status("diff-index", "--cached", "--quiet", "HEAD", "--") == 0:
            return None
        tree = self.git.text("write-tree")
        parent = self.git.text("rev-parse", "--verify", "HEAD^{commit}")
        author = [("user.name", AGENT_NAME), ("user.email", AGENT_EMAIL)]
        committing = HostGit(self.path, self.git_dir, settings=author)
        commit = committing.text("commit-tree", tree, "-p", parent, stdin=message.encode("utf-8", "replace"))
        committing.run("update-ref", "-m", "agent: commit", "HEAD", commit, parent)
        return commit

    def write_patch(self, session_id: str) -> Path:
        patch_dir = agent_dir(self.repo) / "patches"
        patch_dir.mkdir(parents=True, exist_ok=True)
        patch = patch_dir / f"{session_id}.patch"
        patch.write_bytes(self.diff_bytes())
        return patch

    def remove(self, keep_branch: bool) -> None:
        """Remove the worktree; delete the branch too unless it holds the agent's change."""
        user = HostGit(Path(self.repo.working_tree_dir or self.path), Path(self.repo.git_dir))
        try:
            user.run("worktree", "remove", "--force", str(self.path))
        except HostGitError:
            shutil.rmtree(self.path, ignore_errors=True)
            user.run("worktree", "prune")
        if not keep_branch and self.branch in {h.name for h in self.repo.heads}:
            user.run("branch", "-D", self.branch)


def apply_branch(repo: git.Repo, branch: str) -> list[str]:
    """Apply the change on `branch` (relative to where it forked) to the user's working tree.

    All or nothing: `git apply` checks every hunk before writing, so a conflict changes no file.
    Returns the files changed.
    """
    if branch not in {h.name for h in repo.heads}:
        raise WorkspaceError(f"no branch named {branch!r}; `git branch --list 'agent/*'` shows the agent's")
    base = repo.git.merge_base("HEAD", branch)
    # the user's repository and config, but a patch `git apply` takes: no external diff, textconv, colour
    plain = ("--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/")
    patch = bytes(
        repo.git.diff(base, branch, "--binary", *plain, stdout_as_string=False, strip_newline_in_stdout=False)
    )
    if not patch.strip():
        raise WorkspaceError(f"branch {branch} holds no change relative to your HEAD")
    files = str(repo.git.diff("--name-only", "--no-ext-diff", base, branch)).splitlines()
    patch_file = agent_dir(repo) / "patches" / f"apply-{slugify(branch)}.patch"
    patch_file.parent.mkdir(parents=True, exist_ok=True)
    patch_file.write_bytes(patch)
    try:
        repo.git.apply("--check", str(patch_file))
        repo.git.apply(str(patch_file))
    except git.GitCommandError as exc:
        raise WorkspaceError(
            f"the change on {branch} does not apply cleanly to your working tree (nothing was changed):\n"
            f"{exc.stderr.strip()}\nCommit or stash your edits to those files, or merge the branch with git."
        ) from exc
    return files


def discard_branch(repo: git.Repo, branch: str) -> None:
    """Delete an agent branch the user rejected; their checkout is not touched."""
    if branch not in {h.name for h in repo.heads}:
        raise WorkspaceError(f"no branch named {branch!r}; it may have been deleted already")
    if not repo.head.is_detached and repo.active_branch.name == branch:
        raise WorkspaceError(f"{branch} is checked out: switch to another branch before rejecting it")
    repo.git.branch("-D", branch)


def live_diff(worktree: Path, base_commit: str) -> str:
    """The worktree's change against `base_commit`, new files included, read while the agent works.

    Uses a throwaway index (GIT_INDEX_FILE) so the agent's own index is never touched or locked.
    Commands may be running: nothing is removed, nested repositories and gitlinks are left out, and
    git is not waited on for long (a command may make a FIFO where git opens a file).
    """
    with tempfile.TemporaryDirectory(prefix="agent-diff-") as tmp:
        tree = HostGit(worktree, timeout=LIVE_TIMEOUT).with_index(Path(tmp) / "index")
        tree.run("read-tree", base_commit)
        skip = [f":(exclude,literal){rel}" for rel in unreadable_paths(tree)]
        tree.run("add", "-A", "--ignore-errors", "--", ".", *skip, ok_codes=(0, 1))
        return tree.run("diff", "--cached", base_commit, "--").decode("utf-8", "replace")
