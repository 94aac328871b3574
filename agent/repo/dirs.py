"""Where the agent keeps its things: `<git-common-dir>/.agent/`, never in the work tree.

- `sessions/`: trajectories (and edit journals) of each run;
- `worktrees/<session>`: the agent's own git worktree for a run;
- `patches/`: the patch of each change;
- `cache/context`: the repository context's parse cache. Every worktree of a repository shares it,
  so the agent's fresh worktree reuses the parses made in the user's checkout;
- `env/`: the test environment `setup_command` prepares.
"""

from __future__ import annotations

from pathlib import Path

import git


def agent_dir(repo: git.Repo) -> Path:
    """`<git-common-dir>/.agent`: sessions, worktrees and patches live here, not in the work tree."""
    return Path(repo.git.rev_parse("--path-format=absolute", "--git-common-dir")) / ".agent"


def session_dir(repo: git.Repo) -> Path:
    return agent_dir(repo) / "sessions"


def env_dir(repo: git.Repo | None) -> Path | None:
    """Where `setup_command` prepares the test environment: `<git-common-dir>/.agent/env`."""
    return agent_dir(repo) / "env" if repo is not None else None


def cache_dir(repo: git.Repo) -> Path:
    return agent_dir(repo) / "cache" / "context"


def cache_dir_for(root: Path) -> Path | None:
    """The cache of the repository `root` is in; None outside git (parses then stay in memory)."""
    try:
        return cache_dir(git.Repo(root, search_parent_directories=True))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return None
