"""Which GitHub repository a checkout belongs to, and pushing a branch to it with gitpython.

The token reaches git only through the environment of the one `git push` process: a credential
helper given as command-line-scope config (GIT_CONFIG_COUNT/KEY/VALUE) reads it from a variable.
Nothing is written to .git/config, and the token is not on any command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import git

from agent.repo.host_git import HostGit, HostGitError

TOKEN_VARIABLE = "LOCAL_AGENT_PUSH_TOKEN"
# Prints the credentials git asks for (`get`); ignores `store` and `erase`.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; echo username=x-access-token; '
    f'echo "password=${TOKEN_VARIABLE}"; }}; f'
)
_SLUG = re.compile(r"^(?:[a-z+]+://(?:[^@/]+@)?[^/]+/|[^@/:]+@[^:]+:)(?P<slug>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


class PushError(Exception):
    """`git push` failed; the message carries git's own explanation."""


def slug_from_url(url: str) -> str | None:
    """`owner/name` from an https, ssh or scp-style GitHub (or GitHub Enterprise) remote URL."""
    match = _SLUG.match(url.strip())
    return match.group("slug") if match else None


def repository_slug(repo: git.Repo, remote: str, env: Mapping[str, str]) -> str | None:
    """`GITHUB_REPOSITORY` (set by GitHub Actions), else the remote's URL."""
    if env.get("GITHUB_REPOSITORY"):
        return env["GITHUB_REPOSITORY"]
    if remote not in {r.name for r in repo.remotes}:
        return None
    for url in repo.remote(remote).urls:
        slug = slug_from_url(url)
        if slug:
            return slug
    return None


def push_settings(token: str | None) -> list[tuple[str, str]]:
    """Command-line-scope config for one `git push`: our credential helper only (others are reset)."""
    if not token:
        return []
    # an empty helper clears the ones configured before
    return [("credential.helper", ""), ("credential.helper", CREDENTIAL_HELPER)]


def push_environment(token: str | None) -> dict[str, str]:
    """Environment for one `git push` (what `push_branch` gives git): the credential helper as
    GIT_CONFIG_COUNT/KEY/VALUE, the token in its variable, no prompts."""
    settings = push_settings(token)
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": str(len(settings))}
    for n, (key, value) in enumerate(settings):
        env |= {f"GIT_CONFIG_KEY_{n}": key, f"GIT_CONFIG_VALUE_{n}": value}
    return env | ({TOKEN_VARIABLE: token} if token else {})


def push_branch(
    repo: git.Repo, local_branch: str, remote_branch: str, remote: str, token: str | None
) -> None:
    """Force-push `local_branch` to `remote_branch` on `remote`: the branch belongs to the agent, and a
    re-run replaces the previous attempt (its pull request follows the branch)."""
    if remote not in {r.name for r in repo.remotes}:
        raise PushError(
            f"the repository has no remote named {remote!r}: add it with `git remote add` or pass --remote"
        )
    if local_branch not in {h.name for h in repo.heads}:
        raise PushError(f"no local branch {local_branch!r} to push")
    refspec = f"+refs/heads/{local_branch}:refs/heads/{remote_branch}"
    # the user's own config (credentials, proxies, insteadOf), but no hook: the branch holds what the
    # model wrote, and a pre-push hook that runs the tests would run it on the host
    pushing = HostGit(
        Path(repo.working_tree_dir or repo.git_dir),
        Path(repo.git_dir),
        user_config=True,
        settings=push_settings(token),
        env={TOKEN_VARIABLE: token} if token else {},
    )
    try:
        pushing.run("push", "--no-verify", "--no-recurse-submodules", remote, refspec)
    except HostGitError as exc:
        raise PushError(f"git push of {local_branch} to {remote}/{remote_branch} failed: {exc}") from exc
