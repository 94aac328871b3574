"""Per-command overhead of the sandbox vs a bare subprocess.

    python tests/bench/bench_sandbox.py [--repeats 40] [--pytest-repeats 8]

Rows: `true`, and a short pytest run (two tests in a temporary git repository, plugin autoload off
so the environment's plugins do not swamp the measurement). Columns: a bare `subprocess.run` (no
limits, the same environment variables), the `none` backend (process group, rlimits, capped output, env scrub)
and the bubblewrap backend (workspace policy: namespaces, mounts, pids cgroup when root). Median
wall time per command in ms over `--repeats` runs, the three ways interleaved, after one warm-up;
"added" is bubblewrap minus bare, in wall time and in CPU time (ours and the children's; CPU time
stays meaningful when other jobs load the machine). Target: at most 15 ms added per command.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.bubblewrap import BubblewrapSandbox
from sandbox.env import scrubbed_env
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.repos import median_repo
from tools.base import command_env_for

TARGET_MS = 15.0


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process and its children): CPU time hardly moves on a busy machine."""
    cpu, started = _cpu(), time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000, (_cpu() - cpu) * 1000


Row = tuple[str, list[float], list[float]]  # name, wall ms and CPU ms per way


def row(name: str, argv: list[str], root: Path, repeats: int) -> Row:
    """Median ms per command for each way of running it; the three are interleaved run by run, so a
    busy machine slows all columns alike."""
    env = {**command_env_for(root), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    none = SubprocessSandbox()
    bwrap = BubblewrapSandbox()
    bare_env = scrubbed_env(overrides=env)  # the same variables: only the isolation differs

    def bare() -> object:  # a session of its own and no stdin, like the sandboxes
        return subprocess.run(
            argv,
            cwd=root,
            env=bare_env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    ways: list[Callable[[], object]] = [
        bare,
        lambda: none.run(argv, root, 60, env),
        lambda: bwrap.run(argv, root, 60, env),
    ]
    for way in ways:
        way()  # warm-up: page cache, imports
    walls: list[list[float]] = [[], [], []]
    cpus: list[list[float]] = [[], [], []]
    for _ in range(repeats):
        for column, way in enumerate(ways):
            wall, cpu = timed(way)
            walls[column].append(wall)
            cpus[column].append(cpu)
    return name, [statistics.median(c) for c in walls], [statistics.median(c) for c in cpus]


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
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| command | bare ms | none backend ms | bubblewrap ms | added wall ms | added CPU ms |")
    print("|---|---:|---:|---:|---:|---:|")
    worst = 0.0
    for name, (bare, plain, wrapped), (bare_cpu, _plain_cpu, wrapped_cpu) in rows:
        added, added_cpu = wrapped - bare, wrapped_cpu - bare_cpu
        worst = max(worst, added)
        print(f"| {name} | {bare:.1f} | {plain:.1f} | {wrapped:.1f} | {added:+.1f} | {added_cpu:+.1f} |")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"worst added wall time: {worst:.1f} ms ({verdict} the {TARGET_MS:g} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
