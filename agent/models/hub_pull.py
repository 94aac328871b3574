"""`agent models pull OWNER/REPO[:FILE_OR_QUANT]`: a GGUF (all shards of a split one) from a
Hugging Face repository, through `huggingface_hub`.

The repository's file list (with each LFS file's SHA-256 and size) comes from the hub's tree API;
each file is fetched with `hf_hub_download` into a hidden staging folder (`.downloads/`), which
retries a cut connection with a Range request from where it stopped. Every file's size and SHA-256
are checked before anything gets its final name under `hub/<owner>--<repo>/`; the first shard is
moved last, so a model is either all there and verified or not there at all. `HF_ENDPOINT` and
`HF_TOKEN` are honoured (a mirror, a gated repository, or the test server on loopback).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.models.cache import ModelInstallError, recorded_checksum
from agent.models.gguf_file import SHARD
from agent.models.verified_write import publish
from agent.progress import Progress

DEFAULT_ENDPOINT = "https://huggingface.co"
PREFERRED_QUANT = "Q4_K_M"
REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def parse_ref(ref: str) -> tuple[str, str | None]:
    """ "owner/repo[:file-or-quant]" -> (repo, selector)."""
    repo, _, selector = ref.partition(":")
    if not REPO.match(repo):
        raise ModelInstallError(f"{ref!r} is not OWNER/REPO[:FILE] (e.g. unsloth/GLM-5-GGUF:UD-Q2_K_XL)")
    return repo, selector or None


def _group_key(path: str) -> str:
    """Shards of one model share a key: the path without `-0000k-of-0000n`."""
    name = path.rsplit("/", 1)[-1]
    match = SHARD.match(name)
    return path[: len(path) - len(name)] + (match["prefix"] if match else name.removesuffix(".gguf"))


def _groups(files: list[HubFile]) -> dict[str, list[HubFile]]:
    groups: dict[str, list[HubFile]] = {}
    for f in sorted(files, key=lambda f: f.path):
        if f.path.endswith(".gguf") and "mmproj" not in f.name.lower():
            groups.setdefault(_group_key(f.path), []).append(f)
    return groups


def _tag(selector: str, key: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(selector.lower())}(?![a-z0-9])", key.lower()) is not None


def choose_files(files: list[HubFile], selector: str | None, repo: str) -> list[HubFile]:
    """The files of one model: an exact path, a quantisation tag, or the only/preferred GGUF."""
    groups = _groups(files)
    if not groups:
        raise ModelInstallError(f"{repo} has no GGUF files")
    if selector:
        exact = [k for k, g in groups.items() if any(f.path == selector for f in g)]
        picked = exact or [k for k in groups if _tag(selector, k)]
    else:
        picked = list(groups) if len(groups) == 1 else [k for k in groups if _tag(PREFERRED_QUANT, k)]
    if len(picked) == 1:
        return groups[picked[0]]
    listing = ", ".join(k.rsplit("/", 1)[-1] for k in (picked or groups))
    what = f"{selector!r} matches {len(picked)} models" if picked else "choose one"
    raise ModelInstallError(f"{repo}: {what}: {listing}; run `agent models pull {repo}:NAME`")


def _hub_errors() -> tuple[type[Exception], ...]:
    """What the hub client raises for a missing or gated repository or a broken connection."""
    from huggingface_hub.errors import HFValidationError, HTTPError

    return (HTTPError, HFValidationError, OSError, ValueError)


def _list_files(repo: str, revision: str, endpoint: str, token: str | None) -> list[HubFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint, token=token)
    entries = api.list_repo_tree(repo, recursive=True, revision=revision)
    return [
        HubFile(e.path, e.size, e.lfs.sha256 if e.lfs else None) for e in entries if isinstance(e, RepoFile)
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_bar(progress: Progress, done_before: int, total: int) -> type:
    """A tqdm class for `hf_hub_download` that reports bytes to our `Progress` and draws nothing."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class _Bar(hf_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._done = int(kwargs.get("initial") or 0)
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            progress(done_before + self._done, total)
            return None

    return _Bar


@dataclass
class _Pull:
    repo: str
    revision: str
    endpoint: str
    token: str | None
    staging: Path
    target: Path
    progress: Progress

    def fetch(self, f: HubFile, done_before: int, total: int) -> Path:
        """Download one file into staging and check it; a bad one is deleted."""
        from huggingface_hub import hf_hub_download

        if f.sha256 is None:
            raise ModelInstallError(
                f"{self.repo}/{f.path} publishes no SHA-256 (not an LFS file): cannot verify it"
            )
        try:
            local = Path(
                hf_hub_download(
                    self.repo,
                    f.path,
                    revision=self.revision,
                    local_dir=self.staging,
                    endpoint=self.endpoint,
                    token=self.token,
                    tqdm_class=_progress_bar(self.progress, done_before, total),
                )
            )
        except _hub_errors() as exc:
            raise ModelInstallError(
                f"download of {self.repo}/{f.path} failed: {exc}; run the command again"
            ) from exc
        self._check(local, f)
        return local

    def _check(self, local: Path, f: HubFile) -> None:
        size = local.stat().st_size
        actual = _sha256(local) if size == f.size else None
        if actual != f.sha256:
            local.unlink(missing_ok=True)
            found = f"SHA-256 {actual}" if actual else f"{size} bytes"
            raise ModelInstallError(
                f"{self.repo}/{f.path} arrived with {found}, the hub publishes "
                f"{f.size} bytes with SHA-256 {f.sha256}: refusing it (deleted)"
            )

    def installed(self, f: HubFile) -> bool:
        final = self.target / f.name
        return final.is_file() and final.stat().st_size == f.size and recorded_checksum(final) == f.sha256


def pull_hub(
    ref: str,
    model_dir: Path,
    progress: Progress,
    env: Mapping[str, str] = os.environ,
    revision: str = "main",
) -> Path:
    """Install the GGUF named by `ref`; returns its path (the first shard of a split model)."""
    repo, selector = parse_ref(ref)
    endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    token = env.get("HF_TOKEN") or None
    folder = repo.replace("/", "--")
    pull = _Pull(
        repo,
        revision,
        endpoint,
        token,
        model_dir / ".downloads" / folder,
        model_dir / "hub" / folder,
        progress,
    )
    try:
        listed = _list_files(repo, revision, endpoint, token)
    except _hub_errors() as exc:
        hint = " (set HF_TOKEN if the repository is gated)" if "401" in str(exc) or "403" in str(exc) else ""
        raise ModelInstallError(f"cannot list {repo} on {endpoint}: {exc}{hint}") from exc
    files = choose_files(listed, selector, repo)
    total = sum(f.size for f in files)
    staged: list[tuple[Path, HubFile]] = []
    done = 0
    for f in files:
        if not pull.installed(f):
            staged.append((pull.fetch(f, done, total), f))
        done += f.size
        progress(done, total)
    pull.target.mkdir(parents=True, exist_ok=True)
    for local, f in sorted(staged, key=lambda s: s[1] == files[0]):  # the first shard last
        publish(local, pull.target / f.name, f.sha256 or "")
    shutil.rmtree(pull.staging, ignore_errors=True)
    return pull.target / files[0].name
