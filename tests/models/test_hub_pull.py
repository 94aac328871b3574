"""`agent models pull OWNER/REPO[:FILE]` through huggingface_hub against a hub on loopback.

The server implements the endpoints huggingface_hub uses for a download: the tree listing
(`GET /api/models/{repo}/tree/{rev}`, each LFS file with its sha256 and size) and
`HEAD`/`GET /{repo}/resolve/{rev}/{path}` (X-Repo-Commit, ETag = the LFS sha256, Range requests).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pty
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gguf import GGUFWriter

from agent.models.cache import ModelInstallError
from agent.models.gguf_file import read_model
from agent.models.hub_pull import HubFile, choose_files, parse_ref, pull_hub
from agent.models.local_models import find_local_models
from agent.progress import no_progress
from tests.commands import AGENT
from tests.gguf_synth import T, write_header

COMMIT = "a" * 40


@dataclass
class Hub:
    files: dict[str, bytes]  # path in the repo -> what the server sends
    published: dict[str, bytes] = field(default_factory=dict)  # what the listing describes, if different
    cut_first_get_at: int = 0  # the first GET of each file sends this many bytes, then hangs up
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def listed(self, path: str) -> bytes:
        return self.published.get(path, self.files[path])


def handler_for(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    prefix = "/org/GLM-GGUF/resolve/main/"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def _serve(self, body: bool) -> None:
            hub.requests.append((self.command, self.path.split("?")[0], self.headers.get("Range", "")))
            if self.path.startswith("/api/models/org/GLM-GGUF/tree/main"):
                return self._tree()
            path = self.path.split("?")[0].removeprefix(prefix)
            if not self.path.startswith(prefix) or path not in hub.files:
                return self._send(404, b'{"error": "Entry not found"}', {"X-Error-Code": "EntryNotFound"})
            data = hub.files[path]
            sha = hashlib.sha256(hub.listed(path)).hexdigest()
            start = int(self.headers.get("Range", "bytes=0-").removeprefix("bytes=").split("-")[0] or 0)
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"', "Accept-Ranges": "bytes"}
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            status = 206 if start else 200
            if not body:
                return self._send(status, b"", headers, length=len(data) - start)
            first_get = sum(1 for r in hub.requests if r[0] == "GET" and r[1].endswith(path)) == 1
            if hub.cut_first_get_at and first_get:  # promise everything, send part, hang up
                cut = data[start : start + hub.cut_first_get_at]
                self._send(status, cut, headers, length=len(data) - start)
                self.close_connection = True
                return None
            return self._send(status, data[start:], headers)

        def _tree(self) -> None:
            entries = [
                {
                    "type": "file",
                    "path": path,
                    "size": len(hub.listed(path)),
                    "oid": hashlib.sha1(hub.listed(path)).hexdigest(),
                    "lfs": {
                        "oid": hashlib.sha256(hub.listed(path)).hexdigest(),
                        "size": len(hub.listed(path)),
                        "pointerSize": 134,
                    },
                }
                for path in sorted(hub.files)
            ]
            self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

        def _send(self, status: int, data: bytes, headers: dict[str, str], length: int | None = None) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data) if length is None else length))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(hub: Hub) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(hub))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def gguf_bytes(tmp_path: Path, name: str, rows: int = 4) -> bytes:
    """A GGUF with three Q8_0 tensors of 1088 bytes a row, filled with random bytes."""

    def metadata(w: GGUFWriter) -> None:
        w.add_uint32("llama.block_count", 2)
        w.add_uint32("llama.context_length", 4096)

    tensors = [(f"blk.{i}.ffn_up.weight", (1024, rows), T.Q8_0) for i in range(3)]
    path = write_header(tmp_path / name, "llama", metadata, tensors)
    size = path.stat().st_size
    with path.open("r+b") as handle:  # real (random) data, so checksums mean something
        handle.seek(size - 3 * 1088 * rows)
        handle.write(os.urandom(3 * 1088 * rows))
    return path.read_bytes()


def env_for(url: str, tmp_path: Path) -> dict[str, str]:
    return {"HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf")}


def ggufs_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.gguf"))


def test_pull_resumes_after_a_cut_connection_and_verifies(tmp_path: Path, serve) -> None:
    blob = gguf_bytes(tmp_path, "src.gguf", rows=8192)  # 26 MiB: huggingface_hub writes 10 MiB chunks
    hub = Hub({"m-Q4_K_M.gguf": blob, "README.md": b"# hi"}, cut_first_get_at=22 << 20)
    seen: list[tuple[int, int]] = []
    models = tmp_path / "models"
    path = pull_hub("org/GLM-GGUF", models, lambda d, t: seen.append((d, t)), env_for(serve(hub), tmp_path))
    assert path == models / "hub" / "org--GLM-GGUF" / "m-Q4_K_M.gguf"
    assert path.read_bytes() == blob
    ranges = [r for m, p, r in hub.requests if m == "GET" and p.endswith(".gguf")]
    assert ranges == ["", f"bytes={20 << 20}-"]  # resumed after the last whole chunk written
    assert (path.parent / "m-Q4_K_M.gguf.sha256").read_text().split()[0] == hashlib.sha256(blob).hexdigest()
    assert seen[-1] == (len(blob), len(blob))
    assert ggufs_under(models) == ["hub/org--GLM-GGUF/m-Q4_K_M.gguf"]  # staging is gone
    before = len(hub.requests)
    assert pull_hub("org/GLM-GGUF", models, no_progress, env_for(serve(hub), tmp_path)) == path
    assert [r[0] for r in hub.requests[before:]] == ["GET"]  # only the listing: already installed


def test_a_bad_checksum_is_rejected_and_nothing_looks_like_a_model(tmp_path: Path, serve) -> None:
    good = gguf_bytes(tmp_path, "good.gguf")
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    hub = Hub({"m.gguf": bytes(bad)}, published={"m.gguf": good})
    models = tmp_path / "models"
    with pytest.raises(
        ModelInstallError, match=r"arrived with SHA-256 [0-9a-f]{64}, the hub publishes .* refusing"
    ):
        pull_hub("org/GLM-GGUF:m.gguf", models, no_progress, env_for(serve(hub), tmp_path))
    assert ggufs_under(models) == []
    assert find_local_models([models]) == []


def test_split_shards_are_all_fetched_and_published_first_shard_last(tmp_path: Path, serve) -> None:
    shards = {f"Q2_K/GLM-5-Q2_K-0000{i}-of-00003.gguf": gguf_bytes(tmp_path, f"s{i}.gguf") for i in (1, 2, 3)}
    other = {"Q8_0/GLM-5-Q8_0.gguf": gguf_bytes(tmp_path, "q8.gguf")}
    hub = Hub({**shards, **other})
    models = tmp_path / "models"
    path = pull_hub("org/GLM-GGUF:Q2_K", models, no_progress, env_for(serve(hub), tmp_path))
    assert path.name == "GLM-5-Q2_K-00001-of-00003.gguf"
    assert sorted(p.name for p in path.parent.glob("*.gguf")) == [
        f"GLM-5-Q2_K-0000{i}-of-00003.gguf" for i in (1, 2, 3)
    ]
    assert len(read_model(path).tensors) == 9
    found = find_local_models([models])
    assert [(m.name, m.shards) for m in found] == [("GLM-5-Q2_K-00001-of-00003.gguf", 3)]


def test_a_failed_shard_publishes_none_of_the_model(tmp_path: Path, serve) -> None:
    shards = {f"GLM-5-Q2_K-0000{i}-of-00002.gguf": gguf_bytes(tmp_path, f"s{i}.gguf") for i in (1, 2)}
    broken = bytearray(shards["GLM-5-Q2_K-00002-of-00002.gguf"])
    broken[-1] ^= 1
    hub = Hub({**shards, "GLM-5-Q2_K-00002-of-00002.gguf": bytes(broken)}, published=shards)
    models = tmp_path / "models"
    with pytest.raises(ModelInstallError, match=r"00002-of-00002\.gguf arrived with"):
        pull_hub("org/GLM-GGUF", models, no_progress, env_for(serve(hub), tmp_path))
    assert not (models / "hub").exists() or ggufs_under(models / "hub") == []
    assert find_local_models([models]) == []


def test_choosing_a_file_from_a_repository() -> None:
    files = [
        HubFile("GLM-5-Q4_K_M.gguf", 1, "a"),
        HubFile("GLM-5-UD-Q2_K_XL-00001-of-00002.gguf", 1, "b"),
        HubFile("GLM-5-UD-Q2_K_XL-00002-of-00002.gguf", 1, "c"),
        HubFile("mmproj-F16.gguf", 1, "d"),
    ]
    assert [f.path for f in choose_files(files, None, "r")] == ["GLM-5-Q4_K_M.gguf"]  # the preferred quant
    assert len(choose_files(files, "UD-Q2_K_XL", "r")) == 2
    assert len(choose_files(files, "GLM-5-UD-Q2_K_XL-00002-of-00002.gguf", "r")) == 2
    with pytest.raises(ModelInstallError, match=r"r: choose one: GLM-5-Q4_K_M, GLM-5-UD-Q2_K_XL"):
        choose_files(files, "Q8_0", "r")
    assert parse_ref("unsloth/GLM-5-GGUF:UD-Q2_K_XL") == ("unsloth/GLM-5-GGUF", "UD-Q2_K_XL")
    with pytest.raises(ModelInstallError, match="is not OWNER/REPO"):
        parse_ref("not a repo")


def test_an_unknown_repository_is_a_clear_error(tmp_path: Path, serve) -> None:
    url = serve(Hub({}))
    with pytest.raises(ModelInstallError, match="cannot list org/nothing"):
        pull_hub("org/nothing", tmp_path / "models", no_progress, env_for(url, tmp_path))


# ---- the progress a user sees: `agent models pull` as a subprocess --------------------------------


def pull_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **env_for(url, tmp_path), "AGENT_MODEL_DIR": str(tmp_path / "models")}


def test_pull_progress_on_a_pipe_is_plain_lines(tmp_path: Path, serve) -> None:
    blob = gguf_bytes(tmp_path, "src.gguf", rows=2048)
    url = serve(Hub({"m-Q4_K_M.gguf": blob}))
    result = subprocess.run(
        [*AGENT, "models", "pull", "org/GLM-GGUF"],
        capture_output=True,
        text=True,
        timeout=120,
        env=pull_env(url, tmp_path),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("downloading org/GLM-GGUF: ")]
    assert 1 <= len(lines) <= 3, result.stderr  # a fast pull: its first line (maybe) and its last
    size = len(blob) / 1e6
    assert lines[-1].startswith(f"downloading org/GLM-GGUF: 100.0% ({size:.2f} MB of {size:.2f} MB, ")
    assert "MB/s" in lines[-1]


def test_pull_progress_on_a_terminal_is_a_bar_with_the_time_left(tmp_path: Path, serve) -> None:
    blob = gguf_bytes(tmp_path, "src.gguf", rows=2048)
    url = serve(Hub({"m-Q4_K_M.gguf": blob}))
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [*AGENT, "models", "pull", "org/GLM-GGUF"],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env={**pull_env(url, tmp_path), "TERM": "xterm", "COLUMNS": "120"},
    ) as process:
        os.close(follower)
        drawn = _read_all(leader)
        assert process.wait(timeout=120) == 0, drawn
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    assert "\x1b[" in drawn and "━" in plain  # rich's bar, drawn in place
    size = f"{len(blob) / 1e6:.1f}"
    # the share, the bytes, the rate ("?" until rich has two samples), the time spent and the time left
    bar = rf"downloading org/GLM-GGUF ━+ 100% {size}/{size} MB (\?|[\d.]+ [kMG]?B/s) 0:00:\d\d 0:00:\d\d"
    assert re.search(bar, plain), plain


def _read_all(fd: int) -> str:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")
