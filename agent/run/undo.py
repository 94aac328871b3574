"""`agent undo`: revert the last edits of a session on its agent branch, one commit per undo.

The session's edit journal (`<session>.edits` next to its trajectory) says what each edit changed.
Undoing checks that each file on the branch is still exactly what the edit left, then writes a new
commit on the branch with those edits reverted, using a private index: no checkout is touched,
neither the user's nor any other. The undo is recorded in the journal, so the next `agent undo`
goes one step further back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from agent.events import RunFinished, RunStarted
from agent.repo.dirs import agent_dir
from agent.repo.host_git import HostGit, HostGitError
from agent.repo.journal import EditJournal, EditRecord, UndoError
from agent.run.session import list_sessions, read_trajectory
from agent.run.workspace import AGENT_EMAIL, AGENT_NAME, WorkspaceError

JOURNAL_SUFFIX = ".edits"


@dataclass
class UndoResult:
    session: str
    branch: str
    commit: str
    undone: list[EditRecord]  # the edits reverted, newest first
    remaining: int  # edits still undoable


def journal_path(sessions: Path, session_id: str) -> Path:
    return sessions / f"{session_id}{JOURNAL_SUFFIX}"


def find_session(sessions: Path, wanted: str | None) -> str:
    """The session id `wanted` starts, or the latest session that has an edit journal."""
    ids = [path.stem for path in list_sessions(sessions)]
    if wanted is None:
        with_edits = [sid for sid in ids if journal_path(sessions, sid).is_file()]
        if not with_edits:
            raise WorkspaceError("no session has recorded edits yet; `agent sessions` lists the sessions")
        return with_edits[0]
    matches = [sid for sid in ids if sid.startswith(wanted)]
    if len(matches) != 1:
        raise WorkspaceError(f"{len(matches)} sessions match {wanted!r}; `agent sessions` lists them")
    return matches[0]


def session_branch(trajectory: Path) -> str | None:
    branch: str | None = None
    for event in read_trajectory(trajectory):
        if isinstance(event, RunStarted):
            branch = event.branch
        elif isinstance(event, RunFinished):
            branch = event.report.get("branch") or branch
    return branch


def _checked_out_at(repo: git.Repo, branch: str) -> str | None:
    current: str | None = None
    for line in str(repo.git.worktree("list", "--porcelain")).splitlines():
        if line.startswith("worktree "):
            current = line[len("worktree ") :]
        elif line == f"branch refs/heads/{branch}":
            return current
    return None


class Git:
    """Plain git plumbing in the user's repository, with an optional private index; run through
    agent/repo/host_git.py (the branch holds what the model wrote: no filter or hook of it runs)."""

    def __init__(
        self, repo: git.Repo, index: Path | None = None, settings: Sequence[tuple[str, str]] = ()
    ) -> None:
        work_tree = Path(repo.working_tree_dir or repo.git_dir)
        host = HostGit(work_tree, Path(repo.git_dir), settings=settings)
        self.host = host.with_index(index) if index is not None else host

    def raw(self, *args: str, stdin: str | None = None, check: bool = True) -> bytes | None:
        try:
            return self.host.run(*args, stdin=stdin.encode("utf-8") if stdin is not None else None)
        except HostGitError as exc:
            if not check:
                return None
            raise WorkspaceError(str(exc)) from exc

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return (self.raw(*args, stdin=stdin) or b"").decode("utf-8").strip()

    def file_at(self, ref: str, path: str) -> str | None:
        data = self.raw("cat-file", "blob", f"{ref}:{path}", check=False)
        return None if data is None else data.decode("utf-8", errors="surrogateescape")


def _commit_files(repo: git.Repo, branch: str, files: dict[str, str | None], message: str) -> str:
    """A new commit on `branch` with `files` set (None: removed), built in a private index."""
    with tempfile.TemporaryDirectory(prefix="agent-undo-") as tmp:
        run = Git(repo, index=Path(tmp) / "index")
        old = run("rev-parse", f"refs/heads/{branch}")
        run("read-tree", old)
        for path, text in files.items():
            if text is None:
                run("update-index", "--force-remove", "--", path)
                continue
            listed = run("ls-tree", old, "--", path).split()
            mode = listed[0] if listed else "100644"
            blob = run("hash-object", "-w", "--stdin", f"--path={path}", stdin=text)
            run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
        tree = run("write-tree")
        author = [("user.name", AGENT_NAME), ("user.email", AGENT_EMAIL)]
        new = Git(repo, settings=author)("commit-tree", tree, "-p", old, "-m", message)
        run("update-ref", f"refs/heads/{branch}", new, old)
    return new


def undo(repo: git.Repo, session: str | None = None, count: int = 1) -> UndoResult:
    """Revert the last `count` edits of `session` (default: the latest) on its agent branch."""
    sessions = agent_dir(repo) / "sessions"
    session_id = find_session(sessions, session)
    path = journal_path(sessions, session_id)
    if not path.is_file():
        raise WorkspaceError(f"session {session_id} made no edits: nothing to undo")
    journal = EditJournal.load(path)
    branch = session_branch(sessions / f"{session_id}.jsonl")
    if not branch or branch not in {head.name for head in repo.heads}:
        raise WorkspaceError(
            f"session {session_id} left no branch (it made no change, or the branch was deleted): "
            "nothing to undo"
        )
    where = _checked_out_at(repo, branch)
    if where is not None:
        raise WorkspaceError(
            f"{branch} is checked out at {where} (a run still going, or your own checkout); "
            "undo there with git, or switch that checkout to another branch first"
        )
    run = Git(repo)
    current = {rec.path: run.file_at(branch, rec.path) for rec in journal.pending()[-max(count, 1) :]}
    try:
        chosen = journal.plan_undo(count, current)
    except UndoError as exc:
        raise WorkspaceError(f"session {session_id}: {exc}") from exc
    listing = "\n".join(f"- edit {rec.seq}: {rec.tool} {rec.path}" for rec in chosen)
    message = f"agent: undo {len(chosen)} edit(s) of session {session_id}\n\n{listing}\n"
    commit = _commit_files(repo, branch, current, message)
    for rec in chosen:
        journal.record("undo", rec.path, rec.after, rec.before, undoes=rec.seq, commit=commit)
    return UndoResult(session_id, branch, commit, chosen, len(journal.pending()))
