"""The index build reports its parsing as it goes (issue #32): bytes of new content parsed out of
the bytes to parse, in process (chunk by chunk) and in worker processes (batch by batch); nothing
when everything is cached. `agent context` draws it on stderr only when there is something to parse."""

from __future__ import annotations

import textwrap
from pathlib import Path

from agent.context.index import load_index
from agent.progress import Progress
from tests.commands import run_agent
from tests.repos import make_repo

FILES = 150  # more than one in-process chunk of 64 files


def source(i: int) -> str:
    return textwrap.dedent(
        f'''
        """Helpers number {i}."""


        def scale_{i}(value, factor={i + 1}):
            """Multiply value by the factor, rounded to {i % 7} places."""
            return round(value * factor, {i % 7})


        class Box{i}:
            def __init__(self, items):
                self.items = list(items)

            def total(self):
                return sum(scale_{i}(item) for item in self.items)
        '''
    )


def many_files(root: Path) -> Path:
    return make_repo(root, {f"pkg/mod_{i}.py": source(i) for i in range(FILES)})


def new_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "pkg").glob("*.py"))


Reports = list[tuple[int, int]]


def recorder() -> tuple[Reports, Progress]:
    """A `Progress` that keeps what it hears."""
    reports: Reports = []
    return reports, lambda done, total: reports.append((done, total))


def assert_reports_run_to_the_total(reports: Reports, total: int, least: int) -> None:
    assert len(reports) >= least, reports
    assert {t for _, t in reports} == {total}
    assert reports[0][0] == 0 and reports[-1][0] == total
    done = [d for d, _ in reports]
    assert done == sorted(set(done)), reports  # strictly increasing


def test_in_process_parsing_reports_each_chunk_and_nothing_when_cached(tmp_path: Path) -> None:
    root = many_files(tmp_path / "r")
    cache = tmp_path / "cache"
    reports, progress = recorder()
    index = load_index(root, cache, workers=1, progress=progress)
    assert index.stats.workers == 0 and index.stats.parsed == FILES
    assert_reports_run_to_the_total(reports, new_bytes(root), least=4)  # the start and 3 chunks
    again, progress = recorder()
    cached = load_index(root, cache, workers=1, progress=progress)
    assert cached.stats.parsed == 0 and again == []
    assert [(f.path, f.record) for f in cached.files] == [(f.path, f.record) for f in index.files]


def test_worker_parsing_reports_each_batch_and_nothing_when_cached(tmp_path: Path) -> None:
    root = many_files(tmp_path / "r")
    cache = tmp_path / "cache"
    reports, progress = recorder()
    index = load_index(root, cache, workers=2, parallel_bytes=0, progress=progress)
    assert index.stats.workers == 2
    assert_reports_run_to_the_total(reports, new_bytes(root), least=3)  # the start and 2 batches
    again, progress = recorder()
    load_index(root, cache, workers=2, parallel_bytes=0, progress=progress)
    assert again == []
    serial = load_index(root, None, workers=1)
    assert [(f.path, f.digest, f.record) for f in index.files] == [
        (f.path, f.digest, f.record) for f in serial.files
    ]


def test_agent_context_says_nothing_of_a_quick_index_but_its_summary(
    tmp_path: Path, gemma_path: Path
) -> None:
    """150 files parse in well under the second after which the indexing bar appears (LazyBar):
    off a terminal, the one line is the summary. tests/test_progress.py draws the slow case."""
    root = many_files(tmp_path / "big-repo")
    args = ["context", "Box3.total scales every item", "--budget", "2k", "--model", str(gemma_path)]
    first = run_agent(args, cwd=root)
    assert first.returncode == 0, first.stderr
    assert "\r" not in first.stderr and "\x1b" not in first.stderr
    assert "repository context:" in first.stderr.splitlines()[-1]
    assert f"{FILES} parsed" in first.stderr
    assert all(not line.startswith("indexing") or "100.0%" in line for line in first.stderr.splitlines())
    second = run_agent(args, cwd=root)  # all parses cached: no bar whatever the machine's speed
    assert second.returncode == 0, second.stderr
    assert "indexing" not in second.stderr and f"0 parsed, {FILES} from the cache" in second.stderr
