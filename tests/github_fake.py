"""A loopback HTTP server speaking the GitHub REST endpoints the agent calls (GitHub itself cannot be
reached from the tests). Requests and answers follow the documented shapes: `GET /repos/{o}/{r}`,
`GET /repos/{o}/{r}/issues/{n}`, `GET /repos/{o}/{r}/pulls?head=owner:branch&state=open`,
`POST /repos/{o}/{r}/pulls` (201), `PATCH /repos/{o}/{r}/pulls/{n}`,
`POST /repos/{o}/{r}/issues/{n}/comments` (201; `n` an issue or a pull request); errors carry `message` and
`documentation_url` (422 adds `errors`), every answer the `x-ratelimit-*` headers.

Branches are checked against a real bare git repository (the remote the agent pushes to), as GitHub
checks `head` and `base`. `fail_next` queues canned failures (rate limits, 5xx) for matching requests.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DOCS = "https://docs.github.com/rest"


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    times: int = 1


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """State of the fake: one repository `owner/name` whose git data lives in `bare`."""

    owner: str
    name: str
    bare: Path
    token: str
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def add_issue(self, number: int, title: str, body: str) -> None:
        self.issues[number] = {
            "id": 1000 + number,
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "html_url": f"https://github.example/{self.full_name}/issues/{number}",
            "user": {"login": "reporter"},
            "labels": [{"name": "agent"}],
        }

    def fail_next(
        self, method: str, path_regex: str, status: int, headers: dict[str, str], message: str, times: int = 1
    ) -> None:
        body = {"message": message, "documentation_url": DOCS}
        self.failures.append(Failure(method, re.compile(path_regex), status, headers, body, times))

    def branch_sha(self, branch: str) -> str | None:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    # ---- request handling --------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        prefix = f"/repos/{self.full_name}"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        rest = path[len(prefix) :]
        if method == "GET" and rest == "":
            return 200, {"id": 1, "name": self.name, "full_name": self.full_name, "default_branch": "main"}
        if method == "GET" and (m := re.fullmatch(r"/issues/(\d+)", rest)):
            issue = self.issues.get(int(m.group(1)))
            return (200, issue) if issue else (404, {"message": "Not Found", "documentation_url": DOCS})
        if method == "GET" and rest == "/pulls":
            return 200, self._list_pulls(query)
        if method == "POST" and rest == "/pulls":
            return self._create_pull(body)
        if method == "PATCH" and (m := re.fullmatch(r"/pulls/(\d+)", rest)):
            return self._update_pull(int(m.group(1)), body)
        if method == "POST" and (m := re.fullmatch(r"/issues/(\d+)/comments", rest)):
            return self._create_comment(int(m.group(1)), body)
        return 404, {"message": "Not Found", "documentation_url": DOCS}

    def _list_pulls(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        state = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        found = [p for p in self.pulls if state == "all" or p["state"] == state]
        if head is not None:
            found = [p for p in found if p["head"]["label"] == head]
        return found

    def _invalid(self, field_name: str, message: str) -> tuple[int, Any]:
        error = {"resource": "PullRequest", "field": field_name, "code": "custom", "message": message}
        return 422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}

    def _create_pull(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("head", "base")):
            return self._invalid("head", "head and base are required")
        head, base = body["head"], body["base"]
        head_sha, base_sha = self.branch_sha(head), self.branch_sha(base)
        if head_sha is None:
            return 422, {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                "documentation_url": DOCS,
            }
        if base_sha is None:
            return self._invalid("base", f"base branch {base} does not exist")
        label = f"{self.owner}:{head}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls):
            return self._invalid("head", f"A pull request already exists for {label}.")
        number = len(self.pulls) + 1
        pull = {
            "url": f"{self.url}/repos/{self.full_name}/pulls/{number}",
            "id": 5000 + number,
            "number": number,
            "html_url": f"https://github.example/{self.full_name}/pull/{number}",
            "state": "open",
            "title": body.get("title", ""),
            "body": body.get("body"),
            "draft": bool(body.get("draft", False)),
            "user": {"login": "agent-bot"},
            "head": {"label": label, "ref": head, "sha": head_sha},
            "base": {"label": f"{self.owner}:{base}", "ref": base, "sha": base_sha},
        }
        self.pulls.append(pull)
        return 201, pull

    def _update_pull(self, number: int, body: Any) -> tuple[int, Any]:
        if not 1 <= number <= len(self.pulls):
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        pull = self.pulls[number - 1]
        for key in ("title", "body", "state"):
            if isinstance(body, dict) and key in body:
                pull[key] = body[key]
        return 200, pull

    def _create_comment(self, number: int, body: Any) -> tuple[int, Any]:
        """Issues and pull requests share this endpoint (a pull request is an issue to GitHub)."""
        if number not in self.issues and not 1 <= number <= len(self.pulls):
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            error = {"resource": "IssueComment", "field": "body", "code": "missing_field"}
            return 422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}
        comment_id = 9000 + len(self.comments) + 1
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{self.url}/repos/{self.full_name}/issues/comments/{comment_id}",
            "html_url": f"https://github.example/{self.full_name}/issues/{number}#issuecomment-{comment_id}",
            "issue_url": f"{self.url}/repos/{self.full_name}/issues/{number}",
            "body": body["body"],
            "user": {"login": "github-actions[bot]"},
            "author_association": "NONE",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        self.comments.append(comment)
        return 201, comment

    def take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and failure.path.search(path) and failure.times > 0:
                failure.times -= 1
                return failure
        return None


def rate_headers(remaining: int = 4999, reset: float | None = None) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(5000 - remaining),
        "x-ratelimit-reset": str(int(reset if reset is not None else time.time() + 3600)),
        "x-ratelimit-resource": "core",
    }


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = parse_qs(parts.query)
            with fake.lock:
                fake.requests.append(Recorded(method, parts.path, query, dict(self.headers.items()), body))
                status, headers, answer = self._answer(method, parts.path, query, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _answer(
            self, method: str, path: str, query: dict[str, list[str]], body: Any
        ) -> tuple[int, dict[str, str], Any]:
            if self.headers.get("Authorization") not in (f"Bearer {fake.token}", f"token {fake.token}"):
                return 401, rate_headers(), {"message": "Bad credentials", "documentation_url": DOCS}
            failure = fake.take_failure(method, path)
            if failure is not None:
                return failure.status, {**rate_headers(), **failure.headers}, failure.body
            status, answer = fake.handle(method, path, query, body)
            return status, rate_headers(), answer

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler


class GitHubServer:
    """Runs a `FakeGitHub` on 127.0.0.1 (a free port) in a thread; use as a context manager."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        fake.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
