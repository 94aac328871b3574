"""`agent context "issue"`: the repository context the agent would start from, or its manifest.

stdout gets the pack (or, with --json, the manifest; with --stats, a table of what went in);
stderr gets one summary line, so `agent context "..." > pack.md` still says what it did.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.cli.config_check import check_numbers
from agent.cli.trust import warn_untrusted
from agent.config import load_config, user_config_dir
from agent.context.budget import parse_tokens, resolve_budget
from agent.context.manifest import PackManifest
from agent.context.pack import build_pack
from agent.context.tokens import counter_for
from agent.repo.dirs import cache_dir_for
from agent.run.instruction_prompt import build_block
from agent.run.instructions import discover
from agent.run.workspace import open_repo


def add_context_parser(sub: Any) -> None:
    parser = sub.add_parser("context", help="show the repository context the agent would get for an issue")
    parser.add_argument("task", help="the issue, in words")
    parser.add_argument(
        "--budget", type=_tokens, help="token budget, e.g. 8000 or 32k (default: from the model's context)"
    )
    parser.add_argument("--json", action="store_true", help="print the manifest (what went in) as JSON")
    parser.add_argument("--stats", action="store_true", help="print a table of what went in")
    parser.add_argument("--model", help="GGUF file or catalogue name whose tokenizer counts the tokens")
    parser.add_argument("--ctx", type=int, dest="n_ctx", help="the model's context window (sets the budget)")


def _tokens(text: str) -> int:
    try:
        return parse_tokens(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def stats_table(manifest: PackManifest) -> str:
    lines = [f"{'mode':8} {'role':6} {'tokens':>7}  path  [lines]"]
    for entry in manifest.files:
        ranges = ", ".join(f"{a}-{b}" for a, b in entry.ranges) if entry.mode == "snippets" else ""
        lines.append(f"{entry.mode:8} {entry.role:6} {entry.tokens:>7,}  {entry.path}  {ranges}".rstrip())
    lines.append(f"{'total':15} {manifest.total_tokens:>7,}  (budget {manifest.budget:,})")
    return "\n".join(lines)


def run_context(args: argparse.Namespace) -> int:
    repo = open_repo(args.repo)
    root = Path(repo.working_tree_dir or args.repo)
    config = check_numbers(load_config(root, {"model": args.model, "n_ctx": args.n_ctx}))
    warn_untrusted(config)
    count, tokenizer = counter_for(config)
    budget = args.budget if args.budget is not None else resolve_budget(config.context_budget, config.n_ctx)
    # As in a run: the project's instructions (AGENTS.md) come first, out of the same budget.
    block = build_block(
        discover(root, user_config_dir()), max(min(config.instructions_budget, budget), 0), count
    )
    pack = build_pack(root, args.task, max(budget - block.tokens, 0), count, cache_dir=cache_dir_for(root))
    if args.json:
        print(
            json.dumps(
                {**pack.manifest.model_dump(mode="json"), "instructions_manifest": block.manifest()}, indent=2
            )
        )
    elif args.stats:
        print(stats_table(pack.manifest))
        print(f"{'instructions':15} {block.tokens:>7,}  ({len(block.files)} file(s))")
    else:
        print("\n\n".join(part for part in (block.text, pack.text) if part))
    print(f"{pack.manifest.summary()}; counted with {tokenizer}", file=sys.stderr)
    return 0
