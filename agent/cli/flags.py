"""The flags several subcommands share (the model's), and the config a command line makes."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli.sandbox import sandbox_overrides
from agent.cli.settings import settings_for
from agent.config import AgentConfig


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="GGUF file or catalogue model name for the embedded engine")
    group.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    group.add_argument("--server-model", help="model name to ask the server for")
    group.add_argument("--ctx", type=int, dest="n_ctx", help="context window in tokens (embedded engine)")
    group.add_argument("--threads", type=int, help="CPU threads for the embedded engine")
    group.add_argument(
        "--speculative",
        choices=["auto", "off"],
        help="prompt-lookup speculative decoding in the embedded engine (default auto: on where it pays)",
    )
    group.add_argument(
        "--thinking", choices=["off", "high", "max"], help="thinking effort (models that think)"
    )
    group.add_argument("--experts", type=int, dest="experts_used", help="MoE experts used per token")
    group.add_argument(
        "--kv-type", choices=["f16", "q8_0", "q4_0"], dest="kv_cache_type", help="KV cache type"
    )
    group.add_argument("--parallel", type=int, help="sequences decoded together (servers)")
    group.add_argument("--script", type=Path, help="replay a scripted engine (tests and demos)")


def config_for(args: argparse.Namespace, repo_root: Path | None) -> AgentConfig:
    keys = (
        "model",
        "base_url",
        "server_model",
        "n_ctx",
        "threads",
        "speculative",
        "thinking",
        "experts_used",
        "kv_cache_type",
        "parallel",
        "test_command",
        "python",
        "max_steps",
        "max_minutes",
        "edit_tests",
        "repair",
        "reproduce",
    )
    given = {k: getattr(args, k, None) for k in keys}
    return settings_for(args, repo_root, {**given, **sandbox_overrides(args)})
