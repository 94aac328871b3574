"""`agent models pull NAME` and `agent models list`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent.models import CATALOGUE, ModelInstallError, installed_path, model_cache_dir, pull


def add_models_parser(sub: Any) -> None:
    models = sub.add_parser("models", help="install and list models")
    actions = models.add_subparsers(dest="models_command", required=True)
    pull_parser = actions.add_parser("pull", help="install a catalogue model")
    pull_parser.add_argument("name", help="e.g. qwen2.5-coder-1.5b")
    list_parser = actions.add_parser("list", help="catalogue models and GGUF files found")
    list_parser.add_argument("--json", action="store_true")


def _found_ggufs(cache_dir: Path) -> list[Path]:
    places = [cache_dir, Path.home() / ".cache" / "huggingface" / "hub"]
    return sorted({p for place in places if place.is_dir() for p in place.rglob("*.gguf") if p.is_file()})


def _rows(cache_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in CATALOGUE:
        path = installed_path(entry, cache_dir)
        rows.append(
            {
                "name": entry.name,
                "installed": path is not None,
                "path": str(path) if path else None,
                "context": entry.context_length,
                "description": entry.description,
            }
        )
    known = {r["path"] for r in rows}
    for gguf in _found_ggufs(cache_dir):
        if str(gguf) not in known:
            rows.append(
                {
                    "name": gguf.name,
                    "installed": True,
                    "path": str(gguf),
                    "context": None,
                    "description": f"{gguf.stat().st_size / 1e9:.2f} GB GGUF",
                }
            )
    return rows


def run_models(args: argparse.Namespace) -> int:
    cache_dir = model_cache_dir()
    if args.models_command == "pull":
        try:
            path = pull(args.name, cache_dir)
        except ModelInstallError as exc:
            print(f"agent: {exc}")
            return 2
        print(f"{args.name} ready: {path}")
        return 0
    rows = _rows(cache_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        mark = "installed" if row["installed"] else "not installed"
        print(f"{row['name']:<28} {mark:<14} {row['description']}")
    print(f"model directory: {cache_dir}")
    return 0
