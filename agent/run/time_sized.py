"""The first prompt's repository context sized by the time budget, not only by the context window.

A prompt costs time before the model writes a word: on 2 CPU cores the 1.5B model prefills ~40
tokens a second, so an 8K-token first prompt eats 200 s of a 6-minute budget before one draft.
With the context budget on "auto", the pack gets at most what `CONTEXT_SHARE` of the run's time
buys at the measured prefill speed (agent/models/speed.py), and never less than `MIN_CONTEXT`
(a small repository fits whole anyway). A budget the user set is theirs and is kept.
"""

from __future__ import annotations

from pydantic import BaseModel

from agent.models.speed import Speed

CONTEXT_SHARE = 0.10  # of the run's time: the first prompt's repository context, prefilled
MIN_CONTEXT = 1024


class SizedBudget(BaseModel):
    tokens: int
    notice: str | None = None  # why it is smaller than the window allows


def time_sized(budget: int, speed: Speed | None, max_seconds: float) -> SizedBudget:
    """`budget` (what the context window allows), lowered to what the time buys at `speed`."""
    if speed is None or speed.prefill_tps <= 0 or max_seconds <= 0:
        return SizedBudget(tokens=budget)
    affordable = int(speed.prefill_tps * CONTEXT_SHARE * max_seconds)
    sized = max(min(MIN_CONTEXT, budget), min(budget, affordable))
    if sized >= budget:
        return SizedBudget(tokens=budget)
    notice = (
        f"repository context sized to {sized:,} tokens (the window allows {budget:,}): "
        f"{CONTEXT_SHARE:.0%} of the {max_seconds / 60:.3g}-minute budget at {speed.prefill_tps:.0f} tok/s "
        "prefill as measured on this machine; set context_budget to choose the size yourself"
    )
    return SizedBudget(tokens=sized, notice=notice)
