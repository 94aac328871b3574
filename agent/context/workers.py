"""Parsing many files in parallel, in worker processes: `python -m agent.context.workers`.

Each worker reads `[root, [path, ...]]` as JSON on stdin and writes its records, pickled, on
stdout; `collected` hears of each batch as its records come back. Plain subprocesses rather than
`multiprocessing`: nothing depends on how the parent was started (a script, stdin, a REPL,
pytest) and a worker's crash is an exit code, not a hang. A batch whose worker fails is parsed in
this process instead.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Callable

from agent.context.records import FileRecord, Terms

Parsed = list[tuple[str, str, FileRecord, Terms]]  # (path, digest, record, chunk terms)


def parse_in_workers(
    root: str,
    batches: list[list[str]],
    fallback: Callable[[str, list[str]], Parsed],
    collected: Callable[[list[str]], None] | None = None,
) -> Parsed:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent.context.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in batches
    ]
    try:
        for proc, batch in zip(procs, batches, strict=True):  # every worker gets its work first
            assert proc.stdin is not None
            proc.stdin.write(json.dumps([root, batch]).encode())
            proc.stdin.close()
        results: Parsed = []
        for proc, batch in zip(procs, batches, strict=True):
            results += _collect(proc, root, batch, fallback)
            if collected is not None:
                collected(batch)
        return results
    finally:  # Ctrl-C (or an error) while they work: none is left running
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _collect(
    proc: subprocess.Popen[bytes], root: str, batch: list[str], fallback: Callable[[str, list[str]], Parsed]
) -> Parsed:
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    if proc.wait() == 0:
        try:
            return list(pickle.loads(out))
        except Exception:  # a truncated or foreign stream: parse here instead
            pass
    return fallback(root, batch)


def main() -> None:
    from agent.context.index import parse_batch

    root, paths = json.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps(parse_batch(root, paths), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main()
