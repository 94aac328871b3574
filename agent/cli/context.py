"""`agent context "issue"`: the repository context the agent would start from, or its manifest.

stdout gets the pack (or, with --json, the manifest; with --stats, a table of what went in);
stderr gets one summary line, so `agent context "..." > pack.md` still says what it did.

Tokens are counted with the configured model's own tokenizer, without its weights: a GGUF is opened
vocabulary-only (no weights are loaded: a fraction of a second); a server is asked through its
engine (its /tokenize endpoint or its estimate); with no model at all, an estimate is used and said so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.cli.settings import settings_for
from agent.cli.trust import warn_untrusted
from agent.config import AgentConfig, user_config_dir
from agent.context.budget import parse_tokens, resolve_budget
from agent.context.manifest import PackManifest
from agent.context.pack import build_pack
from agent.messages import Message
from agent.models.resolution import ModelNotFound, resolve_model
from agent.progress import LazyBar
from agent.repo.dirs import cache_dir_for
from agent.run.instruction_prompt import build_block
from agent.run.instructions import discover
from agent.run.workspace import open_repo

CountTokens = Callable[[str], int]
CHARS_PER_TOKEN = 3.5


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
    config = settings_for(args, root, {"model": args.model, "n_ctx": args.n_ctx})
    warn_untrusted(config)
    count, tokenizer = counter_for(config)
    budget = (
        args.budget if args.budget is not None else resolve_budget(config.context.budget, config.engine.n_ctx)
    )
    # As in a run: the project's instructions (AGENTS.md) come first, out of the same budget.
    block = build_block(
        discover(root, user_config_dir()), max(min(config.context.instructions_budget, budget), 0), count
    )
    pack_budget, cache = max(budget - block.tokens, 0), cache_dir_for(root)
    indexing = LazyBar(f"indexing {root.name}", unit="bytes")  # drawn only when there is new content
    try:
        pack = build_pack(root, args.task, pack_budget, count, cache_dir=cache, progress=indexing)
    finally:
        indexing.close()
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


def gguf_counter(path: Path, fit_check: bool = True) -> CountTokens:
    from llama_cpp import Llama

    if fit_check:  # as the engine does: a header our reader cannot parse is not handed to llama.cpp
        from agent.build import check_header

        check_header(path)
    with _native_stderr_silenced():  # llama.cpp logs a context warning at error level, verbose or not
        llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null while llama.cpp opens a vocabulary: with no weights it has no
    trained context length and says `n_ctx_seq (512) > n_ctx_train (0)`, which means nothing here.
    A file it cannot load still raises."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def counter_for(config: AgentConfig) -> tuple[CountTokens, str]:
    """A counter and the name of the tokenizer it uses."""
    if config.engine.base_url:
        from agent.build import build_engine

        engine = build_engine(config)
        server = f"{config.engine.base_url} (server)"
        return (lambda text: engine.count_tokens([Message.user(text)], [])), server
    try:
        resolved = resolve_model(None, config.engine.model)
    except ModelNotFound:
        return estimate, f"an estimate ({CHARS_PER_TOKEN} characters per token: no model installed)"
    return gguf_counter(resolved.path, config.engine.fit_check), resolved.path.name
