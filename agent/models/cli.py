"""`agent models pull NAME` and `agent models list [--json]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.models import CATALOGUE, ModelInstallError, installed_path, model_cache_dir, pull

EXIT_FAILED = 2


def add_models_parser(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="install and list models")
    actions = models.add_subparsers(dest="models_command", required=True)
    names = ", ".join(entry.name for entry in CATALOGUE)
    pull_parser = actions.add_parser("pull", help="install a catalogue model")
    pull_parser.add_argument("name", help=f"one of: {names}")
    list_parser = actions.add_parser("list", help="catalogue models and GGUF files found")
    list_parser.add_argument("--json", action="store_true", help="print machine-readable rows")


def _found_ggufs(cache_dir: Path, env: Mapping[str, str]) -> list[Path]:
    hf_home = Path(env["HF_HOME"]) if env.get("HF_HOME") else Path.home() / ".cache" / "huggingface"
    places = [cache_dir, hf_home / "hub"]
    return sorted({p for place in places if place.is_dir() for p in place.rglob("*.gguf") if p.is_file()})


def _rows(cache_dir: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in CATALOGUE:
        path = installed_path(entry, cache_dir)
        sizes = [s.size for s in entry.sources if s.size is not None]
        rows.append(
            {
                "name": entry.name,
                "catalogue": True,
                "installed": path is not None,
                "path": str(path) if path else None,
                "size": sizes[0] if sizes else None,
                "context_length": entry.context_length,
                "tool_format": entry.tool_format,
                "licence": entry.licence,
                "description": entry.description,
            }
        )
    known = {row["path"] for row in rows}
    for gguf in _found_ggufs(cache_dir, env):
        if str(gguf) not in known:
            rows.append(
                {
                    "name": gguf.name,
                    "catalogue": False,
                    "installed": True,
                    "path": str(gguf),
                    "size": gguf.stat().st_size,
                    "context_length": None,
                    "tool_format": None,
                    "licence": None,
                    "description": "GGUF file (use with --model PATH)",
                }
            )
    return rows


def _print_table(rows: list[dict[str, Any]], cache_dir: Path) -> None:
    for row in rows:
        mark = "installed" if row["installed"] else "not installed"
        size = f"{row['size'] / 1e9:.2f} GB" if row["size"] else ""
        print(f"{row['name']:<40} {mark:<14} {size:>8}  {row['description']}")
        if not row["catalogue"] or row["installed"]:
            print(f"{'':<40} {row['path']}")
    print(f"model directory: {cache_dir}")


def run_models(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    cache_dir = model_cache_dir(env)
    if args.models_command == "pull":
        try:
            path = pull(args.name, cache_dir, env=env)
        except ModelInstallError as exc:
            print(f"agent: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(f"{args.name} ready: {path}")
        return 0
    rows = _rows(cache_dir, env)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows, cache_dir)
    return 0
