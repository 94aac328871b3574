"""The agent's own git worktree and branch: the user's checkout is never touched.

A task runs in `<git-dir>/.agent/worktrees/<session>` on branch `agent/<slug>`, created from the
user's HEAD. When the run ends the worktree is removed; the branch (and a patch file) keep the
change until the user applies it with `agent apply` (or `agent fix --apply`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from tools.journal import EditJournal

AGENT_AUTHOR = git.Actor("local-agent", "agent@localhost")


class WorkspaceError(Exception):
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


def agent_dir(repo: git.Repo) -> Path:
    """`<git-common-dir>/.agent`: sessions, worktrees and patches live here, not in the work tree."""
    return Path(repo.git.rev_parse("--path-format=absolute", "--git-common-dir")) / ".agent"


def _free_branch_name(repo: git.Repo, base: str) -> str:
    existing = {head.name for head in repo.heads}
    if base not in existing:
        return base
    n = 2
    while f"{base}-{n}" in existing:
        n += 1
    return f"{base}-{n}"


@dataclass
class Workspace:
    repo: git.Repo  # the user's repository
    path: Path  # the agent's worktree
    branch: str
    base_commit: str

    @classmethod
    def create(cls, repo: git.Repo, session_id: str, task: str) -> Workspace:
        branch = _free_branch_name(repo, f"agent/{slugify(task)}")
        path = agent_dir(repo) / "worktrees" / session_id
        path.parent.mkdir(parents=True, exist_ok=True)
        base = repo.head.commit.hexsha
        repo.git.worktree("add", "--quiet", "-b", branch, str(path), base)
        return cls(repo=repo, path=path, branch=branch, base_commit=base)

    @property
    def tree(self) -> git.Repo:
        return git.Repo(self.path)

    def diff(self) -> str:
        """The agent's change against the base commit, new files included; a patch `git apply` takes
        (git's output ends with a newline, which gitpython strips)."""
        tree = self.tree
        tree.git.add("-A")
        diff = str(tree.git.diff("--cached", self.base_commit, "--binary"))
        return diff + "\n" if diff else diff

    def changed_files(self) -> list[str]:
        tree = self.tree
        tree.git.add("-A")
        out = str(tree.git.diff("--cached", "--name-only", self.base_commit))
        return [line for line in out.splitlines() if line]

    def set_aside(self, journal: EditJournal | None = None) -> str:
        """Put every changed file back as it is at the base commit; returns the diff set aside.

        Each text file put back is journaled (tool `new_attempt`), so `agent undo` can bring the
        set-aside version back."""
        diff = self.diff()
        for path in self.changed_files():
            target = self.path / path
            now = target.read_bytes() if target.is_file() else None
            original = self._base_bytes(path)  # None: the attempt created it
            if original is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(original)
            before, after = _text(now), _text(original)
            readable = (before is not None or now is None) and (after is not None or original is None)
            if journal is not None and readable:  # a binary file is put back, not journaled
                journal.record("new_attempt", path, before, after)
        self.tree.git.add("-A")
        return diff

    def _base_bytes(self, path: str) -> bytes | None:
        """The file's bytes at the base commit; None when it is not there."""
        # One `git show` per file: GitPython's shared `cat-file --batch` stream broke mid-run
        # ("read of closed file") when an earlier object's stream was not read to its end.
        if not self.tree.git.ls_tree("--name-only", self.base_commit, "--", path):
            return None
        return bytes(
            self.tree.git.show(
                f"{self.base_commit}:{path}", stdout_as_string=False, strip_newline_in_stdout=False
            )
        )

    def restore(self, diff: str, journal: EditJournal | None = None) -> None:
        """Apply a diff `set_aside` returned to the tree as it is at the base commit; each text
        file it changes is journaled (tool `restore_attempt`)."""
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False, encoding="utf-8") as handle:
            handle.write(diff)
        try:
            self.tree.git.apply("--binary", "--whitespace=nowarn", handle.name)
        finally:
            Path(handle.name).unlink(missing_ok=True)
        for path in self.changed_files():
            target = self.path / path
            original = self._base_bytes(path)
            before, after = _text(original), _text(target.read_bytes() if target.is_file() else None)
            if journal is not None and (before is not None or original is None):
                journal.record("restore_attempt", path, before, after)

    def commit(self, message: str) -> str | None:
        """Commit everything in the worktree on the agent's branch; None when nothing changed."""
        tree = self.tree
        tree.git.add("-A")
        if not tree.index.diff("HEAD"):
            return None
        commit = tree.index.commit(message, author=AGENT_AUTHOR, committer=AGENT_AUTHOR)
        return commit.hexsha

    def write_patch(self, session_id: str) -> Path:
        patch_dir = agent_dir(self.repo) / "patches"
        patch_dir.mkdir(parents=True, exist_ok=True)
        patch = patch_dir / f"{session_id}.patch"
        patch.write_text(self.diff(), encoding="utf-8")
        return patch

    def remove(self, keep_branch: bool) -> None:
        """Remove the worktree; delete the branch too unless it holds the agent's change."""
        try:
            self.repo.git.worktree("remove", "--force", str(self.path))
        except git.GitCommandError:
            shutil.rmtree(self.path, ignore_errors=True)
            self.repo.git.worktree("prune")
        if not keep_branch and self.branch in {h.name for h in self.repo.heads}:
            self.repo.git.branch("-D", self.branch)


def apply_branch(repo: git.Repo, branch: str) -> list[str]:
    """Apply the change on `branch` (relative to where it forked) to the user's working tree.

    All or nothing: `git apply` checks every hunk before writing, so a conflict changes no file.
    Returns the files changed.
    """
    if branch not in {h.name for h in repo.heads}:
        raise WorkspaceError(f"no branch named {branch!r}; `git branch --list 'agent/*'` shows the agent's")
    base = repo.git.merge_base("HEAD", branch)
    patch = str(repo.git.diff(base, branch, "--binary"))
    if not patch.strip():
        raise WorkspaceError(f"branch {branch} holds no change relative to your HEAD")
    files = str(repo.git.diff("--name-only", base, branch)).splitlines()
    patch_file = agent_dir(repo) / "patches" / f"apply-{slugify(branch)}.patch"
    patch_file.parent.mkdir(parents=True, exist_ok=True)
    patch_file.write_text(patch + ("" if patch.endswith("\n") else "\n"), encoding="utf-8")
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
    """
    with tempfile.TemporaryDirectory(prefix="agent-diff-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        tree = git.Repo(worktree)
        tree.git.read_tree(base_commit, env=env)
        tree.git.add("-A", env=env)
        return str(tree.git.diff("--cached", base_commit, env=env))


def _text(data: bytes | None) -> str | None:
    """`data` as text; None when it is missing or not UTF-8."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
