"""Materialising and scoring the seeded-bug tasks of `../shared/minibugs` (shared by benches and tests)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import BaseModel


class MiniBug(BaseModel):
    id: str
    issue: str
    gold_files: list[str]
    fail_to_pass: list[str]
    test_cmd: str


def minibugs_dir() -> Path:
    """`$MINIBUGS_DIR`, else `shared/minibugs` beside the checkout."""
    env = os.environ.get("MINIBUGS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "minibugs"


def issue_only_dir(source: Path | None = None) -> Path:
    """The issue-only variant of the task set (its failing tests taken out of the repository the
    agent sees, put back to score), built once with the set's own `make_issue_only.py`."""
    source = source or minibugs_dir()
    dest = Path(tempfile.gettempdir()) / f"minibugs-issue-only-{_digest(source)}"
    if not (dest / "materialize.py").is_file():
        maker = source / "make_issue_only.py"
        subprocess.run([sys.executable, str(maker), str(source), str(dest)], check=True, capture_output=True)
    return dest


def _digest(source: Path) -> str:
    """A key of the task set's contents, so an edited set is built again."""
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(source)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_tasks(root: Path | None = None) -> list[MiniBug]:
    root = root or minibugs_dir()
    tasks = [MiniBug.model_validate_json(p.read_text()) for p in sorted(root.glob("*/task.json"))]
    if not tasks:  # a benchmark of nothing would print an empty table and look like a result
        raise SystemExit(f"no minibugs tasks under {root}: set MINIBUGS_DIR to the minibugs folder")
    return tasks


def materialize(task: MiniBug, dest: Path, root: Path | None = None) -> Path:
    root = root or minibugs_dir()
    subprocess.run([sys.executable, str(root / "materialize.py"), task.id, str(dest)], check=True)
    return dest


def score(task: MiniBug, dest: Path, root: Path | None = None) -> bool:
    """Restore the task's test files (in case the agent edited them), then run the task's --eval."""
    root = root or minibugs_dir()
    test_files = sorted({node.split("::")[0] for node in task.fail_to_pass})
    subprocess.run(["git", "checkout", "HEAD", "--", *test_files], cwd=dest, check=True, capture_output=True)
    result = subprocess.run(
        [sys.executable, str(root / "materialize.py"), task.id, str(dest), "--eval"],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0 and json.loads(result.stdout.strip().splitlines()[-1])["resolved"]
