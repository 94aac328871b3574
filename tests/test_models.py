"""Model installation with real files: fake part packages on disk, a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from agent.models import ModelInstallError, default_model_path, installed_path, pull
from agent.models.catalogue import CatalogueEntry, HubSource, PyPIPartsSource
from agent.models.download import download
from agent.models.progress import no_progress

PART_SIZES = (3000, 5000, 2000)


def fake_parts(site: Path, prefix: str, blobs: list[bytes], version: str = "1.0") -> list[str]:
    """Real *.dist-info folders, as pip leaves them, each holding one data part."""
    names = []
    for i, blob in enumerate(blobs, 1):
        name = f"{prefix}{i}"
        module = name.replace("-", "_")
        data = site / module / "data" / f"part{i:02d}.bin"
        data.parent.mkdir(parents=True)
        data.write_bytes(blob)
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text(
            f"{module}/data/part{i:02d}.bin,,\n{module}-{version}.dist-info/METADATA,,\n"
        )
        names.append(name)
    return names


@pytest.fixture
def blobs() -> list[bytes]:
    return [os.urandom(n) for n in PART_SIZES]


def entry_for(names: list[str], blobs: list[bytes], **override: object) -> CatalogueEntry:
    whole = b"".join(blobs)
    source = PyPIPartsSource(
        distributions=names,
        version="1.0",
        extra="model-test",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    source = source.model_copy(update=override)
    return CatalogueEntry(
        name="tiny",
        description="",
        file_name="tiny.gguf",
        context_length=512,
        tool_format="hermes",
        licence="MIT",
        sources=[source],
    )


def test_assembles_verifies_and_second_pull_is_a_no_op(tmp_path: Path, blobs: list[bytes]) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    entry = entry_for(fake_parts(site, "tiny-part", blobs), blobs)
    path = pull("tiny", cache, no_progress, [str(site)], (entry,), use_hub=False)
    assert path.read_bytes() == b"".join(blobs)
    assert installed_path(entry, cache) == path
    mtime = path.stat().st_mtime_ns
    assert pull("tiny", cache, no_progress, [str(site)], (entry,), use_hub=False).stat().st_mtime_ns == mtime


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path: Path, blobs: list[bytes]) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    entry = entry_for(fake_parts(site, "tiny-part", blobs), blobs, sha256="0" * 64)
    with pytest.raises(ModelInstallError, match="refusing to use it"):
        pull("tiny", cache, no_progress, [str(site)], (entry,), use_hub=False)
    assert list(cache.iterdir()) == []


def test_wrong_size_is_refused(tmp_path: Path, blobs: list[bytes]) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    entry = entry_for(fake_parts(site, "tiny-part", blobs), blobs, size=123)
    with pytest.raises(ModelInstallError, match="expected 123"):
        pull("tiny", cache, no_progress, [str(site)], (entry,), use_hub=False)


def test_missing_part_names_the_install_command(tmp_path: Path, blobs: list[bytes]) -> None:
    site = tmp_path / "site"
    names = fake_parts(site, "tiny-part", blobs[:2])
    entry = entry_for([*names, "tiny-part3"], blobs)
    with pytest.raises(ModelInstallError, match=r'pip install "local-agent\[model-test\]"'):
        pull("tiny", tmp_path / "cache", no_progress, [str(site)], (entry,), use_hub=False)


def test_interrupted_assembly_leaves_no_model_file(tmp_path: Path, blobs: list[bytes]) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    entry = entry_for(fake_parts(site, "tiny-part", blobs), blobs)

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull("tiny", cache, interrupt, [str(site)], (entry,), use_hub=False)
    assert list(cache.iterdir()) == []
    assert default_model_path(cache, search_path=[str(tmp_path / "empty")]) is None


class FileHandler(http.server.BaseHTTPRequestHandler):
    """Serves one blob with Range support; can cut the first connection midway."""

    blob: bytes = b""
    sha: str = ""
    cut_first: bool = False
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.headers.get("Range") or "full")
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        body = self.blob[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Linked-Etag", f'"{self.sha}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(self.blob) - 1}/{len(self.blob)}")
        self.end_headers()
        if type(self).cut_first:
            type(self).cut_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hub() -> Iterator[tuple[str, type[FileHandler]]]:
    blob = os.urandom(300_000)

    class Handler(FileHandler):  # a fresh class per test: its state stays in this test
        requests: ClassVar[list[str]] = []

    Handler.blob, Handler.sha = blob, hashlib.sha256(blob).hexdigest()
    handler: type[FileHandler] = Handler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def test_download_checks_the_published_sha(tmp_path: Path, hub: tuple[str, type[FileHandler]]) -> None:
    url, handler = hub
    target = tmp_path / "m.gguf"
    with httpx.Client() as client:
        download(
            HubSource(repo="org/repo", file="m.gguf"), target, client, no_progress, env={"HF_ENDPOINT": url}
        )
    assert target.read_bytes() == handler.blob


def test_download_resumes_after_a_cut_connection(tmp_path: Path, hub: tuple[str, type[FileHandler]]) -> None:
    url, handler = hub
    handler.cut_first = True
    target = tmp_path / "m.gguf"
    with httpx.Client() as client:
        download(
            HubSource(repo="org/repo", file="m.gguf"), target, client, no_progress, env={"HF_ENDPOINT": url}
        )
    assert target.read_bytes() == handler.blob
    assert handler.requests[0] == "full" and handler.requests[1].startswith("bytes=")


def test_download_with_bad_checksum_leaves_nothing(
    tmp_path: Path, hub: tuple[str, type[FileHandler]]
) -> None:
    url, _ = hub
    source = HubSource(repo="org/repo", file="m.gguf", sha256="f" * 64)
    with httpx.Client() as client, pytest.raises(ModelInstallError, match="refusing to use it"):
        download(source, tmp_path / "m.gguf", client, no_progress, env={"HF_ENDPOINT": url})
    assert list(tmp_path.iterdir()) == []
