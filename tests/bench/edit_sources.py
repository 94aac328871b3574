"""Real edits for bench_edits.py: the gold fixes of ../shared/eval and this project's own commits.

Each real edit is one hunk of a real change (nearby changes grouped as a diff tool would), applied
alone: the file before, the 0-based line range it replaces, and the lines it puts there.

The eval tasks are materialised from PyPI at run time with the task set's own materialize.py and
kept under a cache directory (LOCAL_AGENT_BENCH_CACHE, default ~/.cache/local-agent/bench_edits),
so only the first run downloads anything.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "eval"
REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_OLD_LINES = 25
MAX_NEW_LINES = 30
HISTORY_EDITS = 60
HUNKS_PER_FILE = 2


@dataclass(frozen=True)
class RealEdit:
    source: str  # "eval:<task>" or "git:<short sha>"
    path: str
    before: str  # the whole file, LF line endings
    start: int  # 0-based first line replaced
    end: int  # one past the last
    replacement: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return self.before.split("\n")[:-1] if self.before.endswith("\n") else self.before.split("\n")

    def after(self) -> str:
        lines = self.lines
        return "\n".join([*lines[: self.start], *self.replacement, *lines[self.end :]]) + "\n"


def cache_dir() -> Path:
    return Path(os.environ.get("LOCAL_AGENT_BENCH_CACHE", Path.home() / ".cache/local-agent/bench_edits"))


def hunks_of(source: str, path: str, before: str, after: str) -> list[RealEdit]:
    """The change before -> after as separate edits, one per hunk of a 3-line-context diff."""
    if not before.endswith("\n") or not after.endswith("\n"):
        return []
    a, b = before.split("\n")[:-1], after.split("\n")[:-1]
    edits = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        core = [op for op in group if op[0] != "equal"]
        start, end = core[0][1], core[-1][2]
        repl = tuple(b[core[0][3] : core[-1][4]])
        changed = a[start:end] + list(repl)
        if end - start > MAX_OLD_LINES or len(repl) > MAX_NEW_LINES or not any(x.strip() for x in changed):
            continue
        edits.append(RealEdit(source, path, before, start, end, repl))
    return edits


# ---- ../shared/eval gold fixes ------------------------------------------------------------------


def materialised(task_id: str) -> Path:
    tree = cache_dir() / "trees" / task_id
    if not (tree / ".task" / "task.json").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        print(f"materialising {task_id} (first run only) ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(EVAL_DIR / "materialize.py"), task_id, str(tree)],
            check=True,
            capture_output=True,
        )
    return tree


def eval_edits() -> list[RealEdit]:
    if not (EVAL_DIR / "tasks.jsonl").is_file():
        print(f"no eval tasks at {EVAL_DIR}; using git history only", file=sys.stderr)
        return []
    edits: list[RealEdit] = []
    for line in (EVAL_DIR / "tasks.jsonl").read_text().splitlines():
        task = json.loads(line)
        tree = materialised(task["id"])
        for path in task["gold_files"]:
            before = (tree / path).read_text(encoding="utf-8")
            after = (tree / ".task" / "gold" / path).read_text(encoding="utf-8")
            edits.extend(hunks_of(f"eval:{task['id']}", path, before, after))
    return edits


# ---- this project's history ---------------------------------------------------------------------


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout


def history_edits(limit: int = HISTORY_EDITS) -> list[RealEdit]:
    """Hunks of modified Python files, oldest commits first (so new commits do not shift the set)."""
    edits: list[RealEdit] = []
    for sha in _git("rev-list", "--reverse", "--no-merges", "HEAD").split():
        parents = _git("rev-list", "--parents", "-n", "1", sha).split()[1:]
        if len(parents) != 1:
            continue
        names = _git("diff-tree", "--no-commit-id", "-r", "--diff-filter=M", "--name-only", sha).split()
        for path in sorted(p for p in names if p.endswith(".py")):
            before, after = _git("show", f"{parents[0]}:{path}"), _git("show", f"{sha}:{path}")
            edits.extend(hunks_of(f"git:{sha[:7]}", path, before, after)[:HUNKS_PER_FILE])
            if len(edits) >= limit:
                return edits[:limit]
    return edits
