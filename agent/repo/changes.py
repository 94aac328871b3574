"""What the index holds against a commit, file by file, read from git's objects only.

Setting an attempt aside journals each file's text before and after. It is taken from the blobs git
staged and the base commit's blobs, never from the worktree: a symbolic link there is a link blob
(its target is never opened), a FIFO is never read.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.repo.host_git import HostGit

ABSENT = "000000"
REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class Change:
    path: str
    base: str | None  # text at the base commit; None: absent there (or not text)
    now: str | None  # text in the index; None: absent (or not text)
    journaled: bool  # both sides are text or absent, and the path is UTF-8: the journal can hold it


@dataclass(frozen=True)
class _Side:
    mode: str
    sha: str


def _decode(side: _Side, blobs: dict[str, bytes]) -> tuple[str | None, bool]:
    """(text, readable): absent is readable as None; a link, gitlink or binary is not readable."""
    if side.mode == ABSENT:
        return None, True
    if side.mode not in REGULAR:
        return None, False
    try:
        return blobs[side.sha].decode("utf-8"), True
    except UnicodeDecodeError:
        return None, False


def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def blobs(git: HostGit, shas: list[str]) -> dict[str, bytes]:
    """The contents of blobs by object name, in one `git cat-file --batch`."""
    if not shas:
        return {}
    out = git.run("cat-file", "--batch", stdin="".join(f"{sha}\n" for sha in shas).encode())
    found: dict[str, bytes] = {}
    at = 0
    for sha in shas:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) != 3:  # "<sha> missing"
            at = end + 1
            continue
        size = int(header[2])
        found[sha] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
    return found


def changes_against(git: HostGit, commit: str) -> list[Change]:
    """Every path whose staged entry differs from `commit`'s, renames as a deletion and an addition."""
    fields = git.run("diff-index", "--cached", "-z", "--no-renames", commit, "--").split(b"\0")
    pairs: list[tuple[str, _Side, _Side]] = []
    for meta, raw_path in zip(fields[0::2], fields[1::2], strict=False):
        old_mode, new_mode, old_sha, new_sha, _status = meta.decode().lstrip(":").split(" ")
        path = raw_path.decode("utf-8", "surrogateescape")
        pairs.append((path, _Side(old_mode, old_sha), _Side(new_mode, new_sha)))
    wanted = sorted({s.sha for _, *sides in pairs for s in sides if s.mode in REGULAR})
    contents = blobs(git, wanted)
    changes = []
    for path, old, new in pairs:
        base, base_ok = _decode(old, contents)
        now, now_ok = _decode(new, contents)
        changes.append(Change(path, base, now, base_ok and now_ok and _is_utf8(path)))
    return changes
