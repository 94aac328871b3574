"""Where a repository's parse cache lives: `<git-common-dir>/.agent/cache/context`.

Every worktree of a repository shares it, so the agent's fresh worktree reuses the parses made
in the user's checkout.
"""

from __future__ import annotations

from pathlib import Path

import git

from agent.workspace import agent_dir


def cache_dir(repo: git.Repo) -> Path:
    return agent_dir(repo) / "cache" / "context"


def cache_dir_for(root: Path) -> Path | None:
    """The cache of the repository `root` is in; None outside git (parses then stay in memory)."""
    try:
        return cache_dir(git.Repo(root, search_parent_directories=True))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return None
