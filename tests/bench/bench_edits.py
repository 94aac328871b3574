"""How forgiving the edit tools are, and that they never apply an edit in the wrong place.

    python tests/bench/bench_edits.py [--json results.json] [--show wrong|refused|all] [--limit N]

Real edits (the gold fixes of ../shared/eval, materialised from PyPI on first use, and hunks of
this project's own commits) are written as a model would write them (search/replace, unified
diff, `*** Begin Patch` envelope, hash-checked line replace), then made sloppy in the ways small
models are (tests/bench/edit_cases.py). Each case runs through the real tool on a real file and
the file is compared with the expected result: applied correctly, refused, or applied wrongly.

Targets: applied wrongly = 0; applied correctly >= 90% of the cases a careful human would accept.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.messages import ToolCall
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.bench.edit_cases import Case, cases_for
from tests.bench.edit_sources import eval_edits, history_edits
from tools import apply_patch, create_file, edit_file, replace_lines
from tools.base import ToolContext
from tools.registry import Toolbox

OUTCOMES = ("correct", "refused", "wrong", "crash")  # a crash is a bug of ours: the run fails


def run_case(case: Case, box: Toolbox, root: Path) -> tuple[str, str]:
    path = root / case.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.disk.encode("utf-8"))
    ctx = ToolContext(root=root, sandbox=SubprocessSandbox())
    try:
        outcome = box.call(ToolCall(id=case.id, name=case.tool, arguments=case.args), ctx)
        after = path.read_bytes().decode("utf-8")
    finally:
        path.unlink(missing_ok=True)
    if outcome.error == "tool_crash":
        return "crash", outcome.result.output
    if outcome.error is not None:
        return ("refused" if after == case.disk else "wrong"), outcome.result.output
    return ("correct" if after == case.expected else "wrong"), outcome.result.output


def table(rows: list[tuple[str, dict[str, int]]], title: str) -> str:
    head = (
        f"{title:<30} {'cases':>6} {'accept':>7} {'correct':>8} {'refused':>8} {'WRONG':>6} {'crash':>6}"
        f" {'ok/accept':>10}"
    )
    out = [head, "-" * len(head)]
    for name, c in rows:
        rate = f"{c['accept_correct'] / c['accept']:.1%}" if c["accept"] else "-"
        out.append(
            f"{name:<30} {c['cases']:>6} {c['accept']:>7} {c['correct']:>8} {c['refused']:>8} {c['wrong']:>6}"
            f" {c['crash']:>6} {rate:>10}"
        )
    return "\n".join(out)


def tally(results: list[tuple[Case, str]], by: str) -> list[tuple[str, dict[str, int]]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case, outcome in results:
        for name in (getattr(case, by), "all"):
            c = counts[name]
            c["cases"] += 1
            c[outcome] += 1
            c["accept"] += case.acceptable
            c["accept_correct"] += case.acceptable and outcome == "correct"
    names = sorted(n for n in counts if n != "all")
    return [(n, counts[n]) for n in [*names, "all"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write every case's outcome here")
    parser.add_argument("--show", choices=["wrong", "refused", "all"], help="print these cases' tool output")
    parser.add_argument("--limit", type=int, help="only the first N real edits (a quick look)")
    args = parser.parse_args()
    started = time.monotonic()
    edits = [*eval_edits(), *history_edits()][: args.limit]
    cases = [case for n, edit in enumerate(edits) for case in cases_for(edit, n)]
    box = Toolbox([edit_file.TOOL, apply_patch.TOOL, replace_lines.TOOL, create_file.TOOL])
    results: list[tuple[Case, str]] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-edits-") as tmp:
        for case in cases:
            outcome, output = run_case(case, box, Path(tmp))
            results.append((case, outcome))
            rows.append(
                {
                    "id": case.id,
                    "kind": case.perturbation,
                    "format": case.fmt,
                    "outcome": outcome,
                    "acceptable": case.acceptable,
                    "output": output,
                }
            )
            if outcome in ("wrong", "crash") or args.show in ("all", outcome):
                print(f"--- {case.id} [{outcome}]\n{output[:1500]}\n", file=sys.stderr)
    sources = len({e.source for e in edits})
    print(
        f"{len(cases)} cases from {len(edits)} real edits ({sources} fixes and commits), "
        f"{time.monotonic() - started:.0f}s\n"
    )
    print(table(tally(results, "perturbation"), "perturbation"))
    print()
    print(table(tally(results, "fmt"), "format"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    bad = sum(1 for _, outcome in results if outcome in ("wrong", "crash"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
