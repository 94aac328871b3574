"""Which GitHub repository a checkout belongs to, and pushing a branch to it with gitpython.

The token reaches git only through the environment of the one `git push` process: a credential
helper given as command-line-scope config (GIT_CONFIG_COUNT/KEY/VALUE) reads it from a variable.
Nothing is written to .git/config, and the token is not on any command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import git

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


def push_environment(token: str | None) -> dict[str, str]:
    """Environment for one `git push`: our credential helper only (others are reset), no prompts."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        env |= {
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",  # an empty helper clears the ones configured before
            "GIT_CONFIG_KEY_1": "credential.helper",
            "GIT_CONFIG_VALUE_1": CREDENTIAL_HELPER,
            TOKEN_VARIABLE: token,
        }
    return env


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
    try:
        repo.git.push(remote, refspec, env=push_environment(token))
    except git.GitCommandError as exc:
        detail = str(exc.stderr or exc).strip()
        raise PushError(f"git push of {local_branch} to {remote}/{remote_branch} failed: {detail}") from exc
