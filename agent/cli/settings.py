"""The config a command runs with: files, `--config FILE`, `AGENT_*` variables and its flags (agent/config.py
merges them), checked for unusable numbers, with `--sandbox-read` paths added to `[sandbox] read_paths`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.cli.config_check import check_numbers
from agent.config import AgentConfig, load_config


def settings_for(
    args: argparse.Namespace, repo_root: Path | None, overrides: Mapping[str, Any]
) -> AgentConfig:
    config = check_numbers(load_config(repo_root, overrides, config_file=getattr(args, "config", None)))
    extra = getattr(args, "sandbox_read", None) or []
    if extra:  # `--sandbox-read` adds to the configured read_paths
        config.sandbox.read_paths = [*config.sandbox.read_paths, *(str(Path(p).resolve()) for p in extra)]
    return config
