"""How fast a model prefills and decodes on this machine: measured once, then learnt from every run.

The time a run may spend is fixed (`max_minutes`); what a prompt costs in time depends on the model
and the machine (the 1.5B on 2 CPU cores prefills ~40 tok/s; a GPU server, thousands). The record
lives in the user's cache (`~/.cache/local-agent/speeds.json`), keyed by engine, model and CPU count:

- `SpeedBook.speed(engine)`: the record, or (for an engine that `probes`) a short measurement first,
  a ~500-token prompt and a few decoded tokens (about 15 s for the 1.5B on 2 cores, once).
- `SpeedBook.learn(engine, usage)`: after a run, its measured speed folded into the record, so the
  figure follows the machine (a busier machine, other threads) without another probe.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError

from agent.engines.base import ChatOptions, Engine
from agent.events import ChatDone, Usage
from agent.messages import Message

# a run's measurement counts once it prefilled this many tokens (shorter ones are mostly overhead)
MIN_MEASURED_TOKENS = 256
LEARNING_RATE = 0.3  # the weight of a new run's figure against the record
PROBE_FUNCTIONS = 40  # the probe's prompt: this many small functions (~500 tokens)
PROBE_REPLY_TOKENS = 12


class Speed(BaseModel):
    prefill_tps: float  # prompt tokens evaluated per second
    decode_tps: float  # tokens generated per second
    runs: int = 0  # runs folded in after the first measurement


def speeds_path(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CACHE_HOME/local-agent/speeds.json`, else `~/.cache/local-agent/speeds.json`."""
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "local-agent" / "speeds.json"


def speed_key(engine: Engine) -> str:
    return f"{engine.name}|{engine.model}|{platform.machine()}|{os.cpu_count()} cpus"


def measured(usage: Usage) -> Speed | None:
    """The speed one request or run showed, when it prefilled enough to say."""
    if usage.prefilled_tokens < MIN_MEASURED_TOKENS or usage.prefill_seconds <= 0:
        return None
    decode = usage.decode_tokens_per_second
    return Speed(prefill_tps=usage.prefilled_tokens / usage.prefill_seconds, decode_tps=decode)


def probe_prompt() -> str:
    functions = "\n\n".join(f"def step_{i}(value):\n    return value * {i} + {i % 7}" for i in range(40))
    return f"{functions}\n\nWhich function returns value * 12 + 5? Answer with its name only."


def probe(engine: Engine) -> Usage:
    """One short request: its usage holds the prefill and decode timings."""
    options = ChatOptions(max_tokens=PROBE_REPLY_TOKENS, temperature=0.0)
    usage = Usage()
    for event in engine.chat([Message.user(probe_prompt())], [], options):
        if isinstance(event, ChatDone):
            usage = event.usage
    return usage


class SpeedBook:
    """The speed records in `path`; `probes`: measure an engine without a record before its run."""

    def __init__(self, path: Path, probes: bool = False) -> None:
        self.path = path
        self.probes = probes

    def _records(self) -> dict[str, Speed]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        records: dict[str, Speed] = {}
        for key, value in data.items() if isinstance(data, dict) else ():
            try:
                records[str(key)] = Speed.model_validate(value)
            except ValidationError:
                continue  # a damaged entry is measured again
        return records

    def _save(self, records: dict[str, Speed]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(json.dumps({k: v.model_dump() for k, v in records.items()}, indent=1))
            partial.replace(self.path)
        except OSError:
            pass  # a cache: a read-only home only means measuring again next time

    def speed(self, engine: Engine, notify: Callable[[str], None] = lambda message: None) -> Speed | None:
        records = self._records()
        key = speed_key(engine)
        if key in records or not self.probes:
            return records.get(key)
        notify(f"measuring {engine.model}'s speed on this machine (once per model and machine)")
        speed = measured(probe(engine))
        if speed is not None:
            records[key] = speed
            self._save(records)
            notify(f"prefill {speed.prefill_tps:.0f} tok/s, decode {speed.decode_tps:.1f} tok/s")
        return speed

    def learn(self, engine: Engine, usage: Usage) -> None:
        speed = measured(usage)
        if speed is None:
            return
        records = self._records()
        key = speed_key(engine)
        old = records.get(key)
        if old is not None:
            mix = LEARNING_RATE
            speed = Speed(
                prefill_tps=(1 - mix) * old.prefill_tps + mix * speed.prefill_tps,
                decode_tps=(1 - mix) * old.decode_tps + mix * (speed.decode_tps or old.decode_tps),
                runs=old.runs + 1,
            )
        records[key] = speed
        self._save(records)
