"""`agent models pull NAME|OWNER/REPO[:FILE]`, `agent models list [--json]`, `agent models fit MODEL`,
`agent models rm NAME [--yes]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.cli.config_check import gigabytes, positive_int
from agent.models import (
    CATALOGUE,
    ModelInstallError,
    find_entry,
    installed_path,
    model_cache_dir,
    pull,
)
from agent.progress import Bar

EXIT_FAILED = 2


def add_models_parser(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="install, list and size models")
    actions = models.add_subparsers(dest="models_command", required=True)
    names = ", ".join(entry.name for entry in CATALOGUE)
    pull_parser = actions.add_parser("pull", help="install a catalogue model or a GGUF from the hub")
    pull_parser.add_argument("name", help=f"one of: {names}; or OWNER/REPO[:FILE or quant, e.g. :Q4_K_M]")
    list_parser = actions.add_parser("list", help="catalogue models and GGUF files found")
    list_parser.add_argument("--json", action="store_true", help="print machine-readable rows")
    fit = actions.add_parser("fit", help="will a GGUF fit this machine, and with which settings")
    fit.add_argument("model", help="a GGUF file (the first shard of a split one) or a catalogue name")
    fit.add_argument(
        "--ctx", type=positive_int, help="context to size for (default: the trained context, or what fits)"
    )
    fit.add_argument("--ram", type=gigabytes, help="RAM in GB instead of this machine's free RAM")
    fit.add_argument("--vram", type=gigabytes, help="VRAM in GB instead of what nvidia-smi reports")
    fit.add_argument("--kv-type", choices=["f16", "q8_0", "q4_0"], help="KV cache type (default: what fits)")
    fit.add_argument("--experts", type=positive_int, help="MoE experts used per token")
    fit.add_argument(
        "--parallel", type=positive_int, default=1, help="sequences served together (llama-server -np)"
    )
    fit.add_argument("--json", action="store_true", help="print the estimate as JSON")
    rm = actions.add_parser("rm", help="remove a downloaded model from the model directory")
    rm.add_argument("name", help="a catalogue name, OWNER/REPO or a GGUF file name (`agent models list`)")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask (needed without a terminal)")


def _search_dirs(cache_dir: Path, extra: list[str], env: Mapping[str, str]) -> list[Path]:
    from agent.models.local_models import hf_cache_dir

    return [cache_dir, *(Path(d).expanduser() for d in extra), hf_cache_dir(env)]


def _catalogue_rows(cache_dir: Path) -> list[dict[str, Any]]:
    rows = []
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
                "quant": "Q4_K_M",
                "context_length": entry.context_length,
                "tool_format": entry.tool_format,
                "licence": entry.licence,
                "description": entry.description,
            }
        )
    return rows


def _rows(cache_dir: Path, extra_dirs: list[str], env: Mapping[str, str]) -> list[dict[str, Any]]:
    from agent.models.local_models import find_local_models

    rows = _catalogue_rows(cache_dir)
    known = {row["path"] for row in rows}
    for found in find_local_models(_search_dirs(cache_dir, extra_dirs, env)):
        if found.path in known:
            continue
        shards = f", {found.shards} shards" if found.shards > 1 else ""
        what = found.error or f"{found.architecture} GGUF{shards} (use with --model PATH)"
        rows.append(
            {
                "name": found.name,
                "catalogue": False,
                "installed": found.error is None,
                "path": found.path,
                "size": found.size,
                "quant": found.quant,
                "context_length": found.context_length,
                "tool_format": None,
                "licence": None,
                "description": what,
            }
        )
    return rows


def _print_table(rows: list[dict[str, Any]], cache_dir: Path) -> None:
    for row in rows:
        mark = "installed" if row["installed"] else "not installed"
        size = f"{row['size'] / 1e9:.2f} GB" if row["size"] else ""
        ctx = f"{row['context_length'] // 1024}k ctx" if row["context_length"] else ""
        print(
            f"{row['name']:<40} {mark:<14} {size:>9} {row['quant'] or '':<8} {ctx:>8}  {row['description']}"
        )
        if not row["catalogue"] or row["installed"]:
            print(f"{'':<40} {row['path']}")
    print(f"model directory: {cache_dir}")


def _pull(name: str, cache_dir: Path, env: Mapping[str, str]) -> int:
    try:
        if find_entry(name) is None and "/" in name:
            from agent.models.hub_pull import pull_hub

            path = pull_hub(name, cache_dir, Bar(f"downloading {name}", unit="bytes"), env)
        else:
            path = pull(name, cache_dir, env=env)
    except ModelInstallError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{name} ready: {path}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from agent.models.fit import FitRequest, plan_fit
    from agent.models.fit_report import plan_json, render_table
    from agent.models.gguf_file import GGUFError, read_model
    from agent.models.hardware import detect
    from agent.models.resolution import ModelNotFound, resolve_model

    try:
        path = resolve_model(args.model, None).path
        model = read_model(path)
    except (ModelNotFound, GGUFError, OSError) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_FAILED
    request = FitRequest(
        n_ctx=args.ctx,
        kv_type=args.kv_type,
        parallel=max(1, args.parallel),
        experts_used=args.experts,
        swa_full=False,  # llama-server's default
    )
    plan = plan_fit(model, detect(args.ram, args.vram), request)
    print(json.dumps(plan_json(plan, str(path)), indent=2) if args.json else render_table(plan, str(path)))
    return 0 if plan.fits else 1


def _remove(name: str, yes: bool, cache_dir: Path) -> int:
    from agent.models.remove import NotDownloaded, files_for, remove_files

    try:
        paths = files_for(name, cache_dir)
    except NotDownloaded as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_FAILED
    size = sum(p.stat().st_size for p in paths)
    listing = "".join(f"  {p}\n" for p in paths)
    if not yes:
        if not sys.stdin.isatty():
            print(f"agent: would remove\n{listing}add --yes to remove them without asking", file=sys.stderr)
            return EXIT_FAILED
        answer = input(f"remove\n{listing}({size / 1e9:.2f} GB)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    remove_files(paths, cache_dir)
    print(f"removed {name} ({len(paths)} files, {size / 1e9:.2f} GB) from {cache_dir}")
    return 0


def run_models(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ, model_dirs: list[str] | None = None
) -> int:
    cache_dir = model_cache_dir(env)
    if args.models_command == "pull":
        return _pull(args.name, cache_dir, env)
    if args.models_command == "fit":
        return _fit(args)
    if args.models_command == "rm":
        return _remove(args.name, args.yes, cache_dir)
    rows = _rows(cache_dir, model_dirs or [], env)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows, cache_dir)
    return 0
