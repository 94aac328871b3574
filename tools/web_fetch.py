"""web_fetch: read a web page (documentation, an issue) as text, within the `[web_fetch]` settings.

Off unless the config enables it (it is not in the default toolset). http and https only; the host
must be on `allow_domains` (or, when a person is there to ask, approved by them); every redirect hop
is checked again; private, loopback and reserved addresses are refused (SSRF) unless `allow_private`;
the body is capped in bytes and the whole fetch in seconds. HTML becomes markdown text
(tools/web/text.py), and the result is wrapped as untrusted data so the model does not take a page's
words for instructions.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx
from pydantic import Field

import prompts
from sandbox.approval import ApprovalRequest, Approver
from sandbox.output import cap_text
from tools.base import ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.web.config import WebFetchConfig
from tools.web.guard import (
    FetchRefused,
    Resolver,
    check_scheme,
    host_allowed,
    public_address,
    system_resolver,
)
from tools.web.text import html_to_text

REDIRECT_CODES = (301, 302, 303, 307, 308)
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/javascript",
)


class Args(ToolArgs):
    url: str = Field(description="an http:// or https:// URL on an allowed domain")


@dataclass
class Page:
    url: str
    status: int
    content_type: str
    body: bytes
    redirects: int
    truncated: bool


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(f"the page is {int(declared)} bytes, more than the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise FetchRefused("the server is too slow: the fetch took longer than its time limit")
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


class WebFetch:
    name = "web_fetch"
    kind: ToolKind = "read"
    description = "Fetch a web page (http/https, allowed domains only) and show it as text."
    args_model = Args

    def __init__(
        self,
        config: WebFetchConfig,
        client: httpx.Client | None = None,
        resolver: Resolver = system_resolver,
        approver: Approver | None = None,
    ) -> None:
        self.config = config
        self.client = client or httpx.Client(trust_env=False, follow_redirects=False)
        self.resolver = resolver
        self.approver = approver
        self._approved: set[str] = set()

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        page = self.fetch(args.url)
        kind = page.content_type.split(";", 1)[0].strip().lower()
        if not kind.startswith(TEXT_TYPES) and kind:
            raise ToolError(f"{page.url} is {kind}, not text; web_fetch only reads text pages")
        if "html" in kind or (not kind and page.body.lstrip()[:1] == b"<"):
            text = html_to_text(page.body)
        else:
            text = page.body.decode("utf-8", errors="replace")
        shown = cap_text(text, self.config.output_chars)
        output = prompts.render(
            "web_content",
            url=page.url,
            status=page.status,
            content_type=kind or "unknown type",
            redirects=page.redirects,
            truncated=page.truncated or shown != text,
            marker=f"===== WEB CONTENT {secrets.token_hex(6)} =====",
            content=shown,
        )
        data = {"url": page.url, "status": page.status, "bytes": len(page.body), "truncated": page.truncated}
        return ToolResult(output=output, ok=page.status < 400, data=data)

    def fetch(self, url: str) -> Page:
        deadline = time.monotonic() + self.config.timeout
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchRefused(f"not a valid URL: {exc}") from exc
        for hop in range(self.config.max_redirects + 1):
            self._check(current)
            response = self._send(current, deadline)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_CODES and location:
                    current = current.join(location)
                    continue
                body, truncated = _read_capped(response, self.config.max_bytes, deadline)
            except httpx.HTTPError as exc:
                raise FetchRefused(f"fetching {current} failed: {exc}") from exc
            finally:
                response.close()
            content_type = response.headers.get("content-type", "")
            return Page(str(current), response.status_code, content_type, body, hop, truncated)
        raise FetchRefused(f"more than {self.config.max_redirects} redirects from {url}")

    def _check(self, url: httpx.URL) -> None:
        check_scheme(url)
        host = url.host
        if host_allowed(host, [*self.config.allow_domains, *self._approved]):
            return
        if self.approver is not None:
            reason = f"{host} is not on the web_fetch allow-list"
            decision = self.approver(ApprovalRequest(tool=self.name, command=str(url), cwd="", reason=reason))
            if decision == "approve_always":
                self._approved.add(host)
            if decision != "deny":
                return
        raise FetchRefused(
            f"{host} is not on the web_fetch allow-list (allow_domains under [web_fetch]); "
            "fetch only pages on the allowed domains"
        )

    def _send(self, url: httpx.URL, deadline: float) -> httpx.Response:
        port = url.port or (443 if url.scheme == "https" else 80)
        address = public_address(url.host, port, self.resolver, self.config.allow_private)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchRefused("the fetch took longer than its time limit")
        request = self.client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={"Host": url.netloc.decode("ascii"), "Accept": "text/html, text/*;q=0.9, */*;q=0.5"},
            timeout=httpx.Timeout(remaining),
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        try:
            return self.client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise FetchRefused(f"{url.host} did not answer within the time limit") from exc
        except httpx.HTTPError as exc:
            raise FetchRefused(f"cannot fetch {url}: {exc}") from exc


def build(config: WebFetchConfig, approver: Approver | None = None) -> WebFetch:
    return WebFetch(config, approver=approver)
