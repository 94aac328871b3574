"""A small client for the GitHub REST endpoints the agent calls, over an injected `httpx.Client`.

Errors, by who must act:
    GitHubError            the API refused or failed (status, GitHub's message, what to do)
    └── RateLimited        a primary (x-ratelimit-remaining: 0) or secondary (retry-after) limit

A secondary limit that asks for a short wait (at most `max_wait` seconds) is waited out and the
request retried, as GitHub's documentation asks; anything longer is raised with the reset time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
MAX_RETRIES = 2


class GitHubError(Exception):
    """The GitHub API refused or failed; the message says what happened and what to do."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(GitHubError):
    def __init__(self, message: str, status: int, wait_seconds: float) -> None:
        super().__init__(message, status)
        self.wait_seconds = wait_seconds


class _Lenient(BaseModel):
    """GitHub answers carry many more fields than we read."""

    model_config = ConfigDict(extra="ignore")


M = TypeVar("M", bound=_Lenient)


class Issue(_Lenient):
    number: int
    title: str
    body: str | None = None
    html_url: str = ""
    state: str = "open"


class BranchRef(_Lenient):
    ref: str
    label: str = ""


class PullRequest(_Lenient):
    number: int
    html_url: str
    state: str = "open"
    title: str = ""
    body: str | None = None
    draft: bool = False
    head: BranchRef
    base: BranchRef


class Repository(_Lenient):
    full_name: str
    default_branch: str


class IssueComment(_Lenient):
    id: int
    html_url: str
    body: str | None = None


def _message(response: httpx.Response) -> str:
    """GitHub's `message`, with the `errors` details of a 422 when there are any."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:300]
    message = str(data.get("message", response.reason_phrase))
    details = [e.get("message") or e.get("code", "") for e in data.get("errors", []) if isinstance(e, dict)]
    return message + (f" ({'; '.join(str(d) for d in details if d)})" if any(details) else "")


_HINTS = {
    401: "the token is missing, expired or wrong: set GITHUB_TOKEN to a valid token",
    403: "the token lacks permission: it needs contents: write and pull-requests: write "
    "(and issues: write to comment)",
    404: "not found: check the repository name, the issue number, and that the token can see the repository",
    422: "GitHub rejected the request as invalid",
}


def _rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait when `response` is a rate-limit answer, else None."""
    if response.status_code not in (403, 429):
        return None
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 60.0
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = float(response.headers.get("x-ratelimit-reset", now + 60))
        return max(0.0, reset - now)
    if response.status_code == 429 or "secondary rate limit" in _message(response).lower():
        return 60.0  # GitHub: without either header, wait at least a minute
    return None


def _rate_limited(response: httpx.Response, wait: float, now: float) -> RateLimited:
    resume = dt.datetime.fromtimestamp(now + wait, dt.UTC).strftime("%H:%M:%S UTC")
    return RateLimited(
        f"GitHub API rate limit hit ({response.status_code}: {_message(response)}); "
        f"retry after {resume} (in {wait:.0f}s)",
        response.status_code,
        wait,
    )


class GitHubClient:
    def __init__(
        self,
        client: httpx.Client,
        token: str | None,
        api_url: str = DEFAULT_API_URL,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._api = api_url.rstrip("/")
        self._headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "local-agent",
        }
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock

    # ---- endpoints ---------------------------------------------------------------------------

    def get_issue(self, repo: str, number: int) -> Issue:
        return _parse(Issue, self._request("GET", f"/repos/{repo}/issues/{number}"), "the issue")

    def get_repository(self, repo: str) -> Repository:
        return _parse(Repository, self._request("GET", f"/repos/{repo}"), "the repository")

    def find_pull(self, repo: str, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` of `repo`'s owner, if there is one."""
        owner = repo.split("/", 1)[0]
        params = {"head": f"{owner}:{branch}", "state": "open"}
        pulls = self._request("GET", f"/repos/{repo}/pulls", params=params)
        if not isinstance(pulls, list):
            raise GitHubError(f"unexpected answer listing pull requests of {repo}: {str(pulls)[:200]}")
        found = [_parse(PullRequest, p, "a pull request") for p in pulls]
        return found[0] if found else None

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> PullRequest:
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        created = self._request("POST", f"/repos/{repo}/pulls", json=payload)
        return _parse(PullRequest, created, "the new pull request")

    def update_pull(self, repo: str, number: int, *, title: str, body: str) -> PullRequest:
        payload = {"title": title, "body": body}
        updated = self._request("PATCH", f"/repos/{repo}/pulls/{number}", json=payload)
        return _parse(PullRequest, updated, "the updated pull request")

    def create_comment(self, repo: str, number: int, body: str) -> IssueComment:
        """A comment on issue or pull request `number` (pull requests are issues to this endpoint)."""
        created = self._request("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body})
        return _parse(IssueComment, created, "the new comment")

    # ---- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(MAX_RETRIES + 1):
            response = self._send(method, path, **kwargs)
            wait = _rate_limit_wait(response, self._clock())
            if wait is None:
                return self._decode(response, method, path)
            if wait > self._max_wait or attempt == MAX_RETRIES:
                raise _rate_limited(response, wait, self._clock())
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self._api + path
        try:
            return self._client.request(method, url, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(
                f"cannot reach the GitHub API at {self._api} ({type(exc).__name__}: {exc}); "
                "check the network, or GITHUB_API_URL for GitHub Enterprise"
            ) from exc

    @staticmethod
    def _decode(response: httpx.Response, method: str, path: str) -> Any:
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise GitHubError(f"{method} {path}: the answer is not JSON") from exc
        status = response.status_code
        hint = _HINTS.get(status, "GitHub failed; try again later" if status >= 500 else "")
        raise GitHubError(
            f"GitHub API {method} {path} failed with {status}: {_message(response)}"
            + (f"; {hint}" if hint else ""),
            status,
        )


def _parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GitHubError(f"unexpected answer from GitHub for {what}: {exc}") from exc
