"""The first prompt's context sized by the time budget (agent/run/time_sized.py) from the model's
measured speed (agent/models/speed.py): the sizing rule, the speed record in a real file, the probe
on the real small model, and a run whose first prompt shrinks on a slow machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.events import Notice, Usage
from agent.models.speed import Speed, SpeedBook, speed_key, speeds_path
from agent.run.time_sized import MIN_CONTEXT, time_sized
from tests.recording import RecordingEngine
from tests.repos import git, median_repo
from tests.scripts import PLAN, run_fix, turns


def test_the_context_gets_what_a_tenth_of_the_time_buys() -> None:
    slow = Speed(prefill_tps=42, decode_tps=15)
    sized = time_sized(8192, slow, 6 * 60)  # the 1.5B on 2 cores, a 6-minute budget
    assert sized.tokens == 1512 and sized.notice and "1,512" in sized.notice and "42 tok/s" in sized.notice
    assert time_sized(8192, slow, 30 * 60).tokens == 7560  # more time, more context
    fast = Speed(prefill_tps=3000, decode_tps=80)  # a GPU server: the window is the limit
    assert time_sized(8192, fast, 6 * 60).model_dump() == {"tokens": 8192, "notice": None}
    assert time_sized(8192, None, 6 * 60).tokens == 8192  # not measured: as before
    assert time_sized(8192, Speed(prefill_tps=1, decode_tps=1), 60).tokens == MIN_CONTEXT
    assert time_sized(600, Speed(prefill_tps=1, decode_tps=1), 60).tokens == 600  # never above the window


def test_the_speed_record_is_learnt_from_runs_and_survives_damage(tmp_path: Path) -> None:
    engine = RecordingEngine([])
    run = {"generated_tokens": 50, "decode_seconds": 5.0}
    book = SpeedBook(tmp_path / "speeds.json")
    assert book.speed(engine) is None  # not measured, and this book does not probe
    book.learn(engine, Usage(prefilled_tokens=100, prefill_seconds=1))  # too short to say
    assert book.speed(engine) is None
    book.learn(engine, Usage(prefilled_tokens=1000, prefill_seconds=10, **run))
    assert book.speed(engine) == Speed(prefill_tps=100, decode_tps=10, runs=0)
    book.learn(engine, Usage(prefilled_tokens=2000, prefill_seconds=10, **run))
    learnt = book.speed(engine)
    assert learnt is not None and learnt.prefill_tps == pytest.approx(130) and learnt.runs == 1
    records = json.loads((tmp_path / "speeds.json").read_text())
    assert list(records) == [speed_key(engine)]
    (tmp_path / "speeds.json").write_text('{"x": {"prefill_tps": "fast"}, "y": [')  # damaged
    assert book.speed(engine) is None


def test_the_probe_measures_the_real_model_once(tmp_path: Path, gemma_path: Path) -> None:
    engine = LlamaCppEngine(llama=load_llama(gemma_path, n_ctx=2048), model_name=gemma_path.name)
    book = SpeedBook(tmp_path / "speeds.json", probes=True)
    said: list[str] = []
    speed = book.speed(engine, said.append)
    assert speed is not None and speed.prefill_tps > 0 and speed.decode_tps > 0
    assert said and "measuring" in said[0] and "tok/s" in said[-1]
    said.clear()
    assert book.speed(engine, said.append) == speed and said == []  # once per model and machine


def test_a_slow_machine_gets_a_smaller_first_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = median_repo(tmp_path / "r")
    body = "\n".join(f"def helper_{i}(xs):\n    return sorted(xs)[{i % 3}]\n" for i in range(300))
    (repo / "helpers.py").write_text(body)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "helpers")

    def first_prompt_tokens(speed: Speed | None) -> tuple[int, list[str]]:
        engine = RecordingEngine(turns(PLAN))
        if speed is not None:
            path = speeds_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({speed_key(engine): speed.model_dump()}))
        _, events = run_fix(repo, engine, task="helper_7 and median are wrong", max_minutes=6)
        notices = [e.message for e in events if isinstance(e, Notice)]
        request = engine.requests[0]
        return engine.count_tokens(request.messages, request.tools), notices

    unmeasured, notices = first_prompt_tokens(None)
    assert not any("sized to" in n for n in notices)
    slow, notices = first_prompt_tokens(Speed(prefill_tps=2, decode_tps=1))
    assert any(f"sized to {MIN_CONTEXT:,} tokens" in n for n in notices), notices
    assert slow < unmeasured - 1000, (slow, unmeasured)
