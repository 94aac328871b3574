"""Initial repository context for a task: the files most related to the issue, in full.

A lexical first version: files are ranked by the issue's identifiers and words (weighted by
rarity across the repository, with a bonus for matches in the path), test files of the chosen
modules come along, and whole files are packed in rank order until the token budget is full.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git

MAX_FILE_BYTES = 150_000
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "this",
        "with",
        "from",
        "should",
        "when",
        "returns",
        "return",
        "but",
        "not",
        "are",
        "was",
        "were",
        "into",
        "its",
        "have",
        "has",
        "def",
        "class",
        "self",
        "none",
        "true",
        "false",
        "import",
        "value",
        "values",
        "instead",
    ]
)


def _terms(text: str) -> list[str]:
    terms: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low not in _STOP:
            terms.append(low)
        terms.extend(p for p in re.split(r"_|(?<=[a-z])(?=[A-Z])", word) if len(p) > 2 and p != word)
    return [t.lower() for t in terms if t.lower() not in _STOP]


@dataclass
class RepoFile:
    path: str
    text: str

    @property
    def is_test(self) -> bool:
        name = Path(self.path).name
        return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in f"/{self.path}"


def repo_text_files(root: Path) -> list[RepoFile]:
    """Tracked and untracked-but-not-ignored text files (git's own ignore rules)."""
    out = git.Repo(root).git.ls_files("--cached", "--others", "--exclude-standard", "-z")
    files: list[RepoFile] = []
    for rel in sorted(set(filter(None, out.split("\0")))):
        path = root / rel
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue
        files.append(RepoFile(rel, data.decode("utf-8", errors="replace")))
    return files


def rank_files(files: list[RepoFile], task: str) -> list[tuple[float, RepoFile]]:
    query = Counter(_terms(task))
    docs = [Counter(_terms(f.text)) for f in files]
    df = Counter(term for doc in docs for term in set(doc))
    n = len(files) or 1
    ranked: list[tuple[float, RepoFile]] = []
    for file, doc in zip(files, docs, strict=True):
        path_terms = set(_terms(file.path.replace("/", " ").replace(".", " ")))
        score = 0.0
        for term, weight in query.items():
            idf = math.log(1 + n / (1 + df[term]))
            score += weight * idf * (math.log1p(doc[term]) + (2.0 if term in path_terms else 0.0))
        ranked.append((score, file))
    ranked.sort(key=lambda item: (-item[0], item[1].path))
    return ranked


def _numbered(file: RepoFile) -> str:
    lines = file.text.splitlines()
    width = len(str(len(lines)))
    body = "\n".join(f"{i:>{width}}| {line}" for i, line in enumerate(lines, 1))
    return f"--- {file.path} ({len(lines)} lines)\n{body}"


def _with_tests(ranked: list[tuple[float, RepoFile]]) -> list[RepoFile]:
    """Rank order, with each source file followed by test files that name its module."""
    order: list[RepoFile] = []
    tests = [f for _, f in ranked if f.is_test]
    for score, file in ranked:
        if score <= 0 or file in order:
            continue
        order.append(file)
        stem = Path(file.path).stem
        if not file.is_test and stem != "__init__":
            order.extend(t for t in tests if stem in Path(t.path).stem and t not in order)
    return order


def pack_context(root: Path, task: str, budget_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """File list plus the most relevant files in full, within `budget_tokens`."""
    files = repo_text_files(root)
    if not files:
        return ""
    listing = "Repository files:\n" + "\n".join(f.path for f in files[:300])
    if len(files) > 300:
        listing += f"\n... and {len(files) - 300} more (use list_files)"
    parts = [listing]
    used = count_tokens(listing)
    included: list[str] = []
    for file in _with_tests(rank_files(files, task)):
        block = _numbered(file)
        cost = count_tokens(block)
        if used + cost > budget_tokens:
            continue
        parts.append(block)
        included.append(file.path)
        used += cost
    header = f"Files shown in full below: {', '.join(included) or 'none (use read_file)'}."
    return "\n\n".join([header, *parts])
