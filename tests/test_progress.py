"""agent/progress.py, off a terminal: a plain line at most every interval and one at the end, with
the share, the counts, the rate and the time left; never a carriage return."""

from __future__ import annotations

import io

from agent.progress import Bar, LazyBar, plain_line


class Clock:
    """Time that moves only when the test says (the bar reads it, nothing else is replaced)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_at_most_every_interval_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    bar = Bar("installing tiny", out, unit="bytes", interval=5.0, clock=clock)
    total = 100_000_000
    for second in range(0, 21):
        clock.now = 1000.0 + second
        bar(second * 4_000_000, total)  # 4 MB/s, 25 s in all
    clock.now = 1025.0
    bar(total, total)
    bar(total, total)  # after the end: nothing more
    lines = out.getvalue().splitlines()
    assert len(lines) == 6 and "\r" not in out.getvalue()  # at 0, 5, 10, 15, 20 s, and the end
    assert lines[1] == "installing tiny: 20.0% (20.00 MB of 100.00 MB, 4.00 MB/s, 0:20 left, 0:05)"
    assert lines[-1] == "installing tiny: 100.0% (100.00 MB of 100.00 MB, 4.00 MB/s, 0:25)"


def test_items_without_a_total_and_a_status() -> None:
    assert plain_line("indexing", 30, 0, 2.0, "items") == "indexing: (30, 0:02)"
    assert (
        plain_line("tasks", 3, 10, 60.0, "items", "t4 (step 2)")
        == "tasks: 30.0% (3 of 10, 2:20 left, 1:00) t4 (step 2)"
    )


def test_a_bar_without_plain_lines_says_only_its_end() -> None:
    out, clock = io.StringIO(), Clock()
    bar = Bar("tasks", out, interval=None, clock=clock)
    bar.update(1, 4)
    bar.print("[1/4] t1: resolved (3s)")
    bar.update(4, 4)
    bar.close()
    assert out.getvalue().splitlines() == ["[1/4] t1: resolved (3s)", "tasks: 100.0% (4 of 4, 0:00)"]


def test_a_lazy_bar_draws_only_work_that_lasts() -> None:
    out, clock = io.StringIO(), Clock()
    quick = LazyBar("indexing r", out=out, unit="bytes", clock=clock)
    quick(0, 1000)
    clock.now += 0.3
    quick(1000, 1000)
    quick.close()
    assert out.getvalue() == ""  # done within the second: nothing drawn
    slow = LazyBar("indexing big", out=out, unit="bytes", clock=clock)
    slow(0, 8_000_000)
    for second in range(1, 5):
        clock.now += 1.0
        slow(second * 2_000_000, 8_000_000)
    slow.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "indexing big: 25.0% (2.00 MB of 8.00 MB, 2.00 MB/s, 0:03 left, 0:01)"
    assert lines[-1] == "indexing big: 100.0% (8.00 MB of 8.00 MB, 2.00 MB/s, 0:04)"
    cached = LazyBar("indexing c", out=out, clock=clock)
    cached(5, 5)
    clock.now += 9
    cached(5, 5)
    assert out.getvalue().splitlines() == lines  # nothing left to do: never drawn
