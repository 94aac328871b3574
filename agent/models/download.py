"""Downloading a GGUF over HTTP(S) from a Hugging Face-style hub: resumable, verified, atomic.

The base URL follows the hub's own convention, `HF_ENDPOINT` (default https://huggingface.co),
so a mirror or a local test server can stand in. Interrupted downloads resume from
`<name>.download` with a Range request; the finished file is verified before it gets its name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from agent.models.cache import ModelInstallError, sidecar
from agent.models.catalogue import HubSource
from agent.models.progress import Progress
from agent.models.verified_write import check_digest

DEFAULT_ENDPOINT = "https://huggingface.co"
ATTEMPTS = 5


def file_url(source: HubSource, env: Mapping[str, str] = os.environ) -> str:
    endpoint = env.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
    return f"{endpoint}/{source.repo}/resolve/{source.revision}/{source.file}"


def _published_sha(response: httpx.Response) -> str | None:
    """The hub sends the LFS object id (the file's SHA-256) as X-Linked-Etag / ETag."""
    for header in ("x-linked-etag", "etag"):
        value = response.headers.get(header, "").strip('W/"')
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value
    return None


def _hash_existing(path: Path) -> tuple[int, hashlib._Hash]:
    digest = hashlib.sha256()
    size = 0
    if path.is_file():
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    return size, digest


def download(
    source: HubSource,
    target: Path,
    client: httpx.Client,
    progress: Progress,
    env: Mapping[str, str] = os.environ,
    token: str | None = None,
) -> Path:
    """Fetch `source` to `target`, resuming after cut connections; verify; rename atomically."""
    url = file_url(source, env)
    partial = target.with_name(target.name + ".download")
    target.parent.mkdir(parents=True, exist_ok=True)
    expected_sha, expected_size = source.sha256, source.size
    last_error: Exception | None = None
    for _ in range(ATTEMPTS):
        have, digest = _hash_existing(partial)
        headers = {"Range": f"bytes={have}-"} if have else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                if response.status_code == 416 and expected_size == have:
                    break
                if response.status_code not in (200, 206):
                    raise ModelInstallError(f"{url} answered HTTP {response.status_code}")
                if response.status_code == 200 and have:  # the server ignored Range: start over
                    have, digest = 0, hashlib.sha256()
                    partial.unlink(missing_ok=True)
                expected_sha = expected_sha or _published_sha(response)
                expected_size = expected_size or _total_size(response, have)
                with partial.open("ab") as out:
                    for chunk in response.iter_bytes():  # as it arrives: a cut loses nothing
                        out.write(chunk)
                        digest.update(chunk)
                        have += len(chunk)
                        progress(have, expected_size or have)
            break
        except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
            last_error = exc  # cut connection: resume from what we have
    else:
        raise ModelInstallError(f"download of {url} failed after {ATTEMPTS} attempts: {last_error}")
    return _finish(partial, target, digest.hexdigest(), expected_size, expected_sha, url)


def _total_size(response: httpx.Response, have: int) -> int | None:
    if response.status_code == 206 and "/" in response.headers.get("content-range", ""):
        total = response.headers["content-range"].rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    return int(length) + (have if response.status_code == 206 else 0) if length else None


def _finish(partial: Path, target: Path, actual: str, size: int | None, sha: str | None, url: str) -> Path:
    try:
        if sha is None:
            raise ModelInstallError(
                f"{url} publishes no SHA-256 and the catalogue has none: cannot verify it"
            )
        written = partial.stat().st_size
        check_digest(written, actual, size if size is not None else written, sha, f"the download of {url}")
    except ModelInstallError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    sidecar(target).write_text(sha + "\n")
    return target
