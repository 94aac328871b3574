"""Per-command overhead of the sandbox vs a bare subprocess.

    python tests/bench/bench_sandbox.py [--repeats 40] [--pytest-repeats 8]

Rows: `true`, and a short pytest run (two tests in a temporary git repository). Columns: a bare
`subprocess.run` (no limits), the `none` backend (process group, rlimits, capped output, env scrub)
and the bubblewrap backend (workspace policy: namespaces, mounts, pids cgroup when root). Median
wall time per command in ms over `--repeats` runs, the three ways interleaved, after one warm-up;
"added" is bubblewrap minus bare. Target: at most 15 ms added per command. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.bubblewrap import BubblewrapSandbox
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.repos import median_repo
from tools.base import command_env_for

TARGET_MS = 15.0


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def row(name: str, argv: list[str], root: Path, repeats: int) -> tuple[str, float, float, float]:
    """Median ms per command for each way of running it; the three are interleaved run by run, so a
    busy machine slows all columns alike."""
    env = command_env_for(root)
    none = SubprocessSandbox()
    bwrap = BubblewrapSandbox()
    ways: list[Callable[[], object]] = [
        lambda: subprocess.run(argv, cwd=root, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True),
        lambda: none.run(argv, root, 60, env),
        lambda: bwrap.run(argv, root, 60, env),
    ]
    for way in ways:
        way()  # warm-up: page cache, imports
    samples: list[list[float]] = [[], [], []]
    for _ in range(repeats):
        for column, way in enumerate(ways):
            samples[column].append(timed(way))
    bare, plain, wrapped = (statistics.median(column) for column in samples)
    return name, bare, plain, wrapped


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--pytest-repeats", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = median_repo(Path(tmp) / "repo")
        pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_stats.py"]
        rows = [
            row("true", ["true"], root, args.repeats),
            row("pytest (2 tests)", pytest_argv, root, args.pytest_repeats),
        ]
    sandbox = BubblewrapSandbox()
    print(f"sandbox mode: {sandbox.mode}, process limit {sandbox.process_limit}")
    print(f"| command | bare ms | none backend ms | bubblewrap ms | added ms (target <= {TARGET_MS:g}) |")
    print("|---|---:|---:|---:|---:|")
    worst = 0.0
    for name, bare, plain, wrapped in rows:
        added = wrapped - bare
        worst = max(worst, added)
        print(f"| {name} | {bare:.1f} | {plain:.1f} | {wrapped:.1f} | {added:+.1f} |")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"worst added: {worst:.1f} ms ({verdict} the {TARGET_MS:g} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
