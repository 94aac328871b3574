"""The status bar: engine and model, sandbox, context gauge, cache reuse, decode speed, steps, time."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.content import Content
from textual.widgets import Static

GAUGE_CELLS = 8


@dataclass(frozen=True)
class Status:
    engine: str = ""
    model: str = ""
    sandbox: str = ""
    state: str = "idle"  # "loading model", "running", "paused", "idle", "done"...
    context_tokens: int = 0
    context_budget: int = 0
    prefilled: int = 0  # this turn: tokens the engine evaluated
    cached: int = 0  # this turn: tokens reused from the KV cache
    tokens_per_second: float = 0.0
    live_rate: bool = False  # the rate is measured on the stream so far, not the engine's report
    drafted: int = 0  # this turn: tokens speculative decoding proposed
    accepted: int = 0  # of those, tokens the model kept
    step: int = 0
    plan_done: int = 0
    plan_total: int = 0
    elapsed: float = 0.0


def short_count(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def gauge(used: int, budget: int) -> Content:
    """`ctx ▰▰▱▱▱▱▱▱ 2.1k/16k`, green under 60%, amber under 85%, red above."""
    if budget <= 0:
        return Content.styled("ctx –", "$text-muted")
    share = min(used / budget, 1.0)
    filled = round(share * GAUGE_CELLS)
    style = "$text-success" if share < 0.6 else "$text-warning" if share < 0.85 else "$text-error"
    return Content.assemble(
        "ctx ",
        ("▰" * filled, style),
        ("▱" * (GAUGE_CELLS - filled), "$text-muted"),
        f" {short_count(used)}/{short_count(budget)}",
    )


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def drafts(status: Status) -> str:
    """`tok/s` and, when drafts were verified this turn, how many the model kept: `31.2 tok/s (draft 84%)`."""
    rate = f"{'~' if status.live_rate else ''}{status.tokens_per_second:.1f} tok/s"
    if status.drafted <= 0:
        return rate
    return f"{rate} (draft {status.accepted / status.drafted:.0%})"


def render(status: Status) -> Content:
    sep = Content.styled(" │ ", "$text-muted")
    rate = drafts(status)
    parts = [
        Content.styled(status.state, "bold $text-accent"),
        gauge(status.context_tokens, status.context_budget),
        Content.from_markup(
            "[$text-muted]prefill[/] $prefilled [$text-muted]cached[/] $cached",
            prefilled=short_count(status.prefilled),
            cached=short_count(status.cached),
        ),
        Content(rate),
        Content(
            f"step {status.step}"
            + (f" plan {status.plan_done}/{status.plan_total}" if status.plan_total else "")
        ),
        Content(clock(status.elapsed)),
        Content.styled(status.sandbox or "–", "$text-muted"),
        Content.styled(f"{status.engine} {status.model}".strip() or "no engine", "$text-muted"),
    ]
    return sep.join(parts)


class StatusBar(Static):
    """One line; `set(**fields)` changes what it shows."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.status = Status()

    def on_mount(self) -> None:
        self.update(render(self.status))

    def set(self, **fields: object) -> None:
        new = replace(self.status, **fields)  # type: ignore[arg-type]
        if new != self.status:
            self.status = new
            self.update(render(new))
