"""`agent batch TASKS` and `agent eval TASKS`: the command line of the batch runner."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from agent.cli.headless import UsageError
from agent.run.exitcodes import EXIT_INTERRUPTED, EXIT_NOT_RESOLVED, EXIT_OK

if TYPE_CHECKING:  # the runner is imported when a batch runs, not for every `agent` command
    from agent.batch.results import TaskResult
    from agent.batch.sources import SandboxFor
    from agent.batch.tasks import Task

HARNESS_FAILURES = ("error", "setup_error", "timeout")
SUMMARY_FIELDS = {"status", "resolved", "failed_tests", "seconds"}


def add_batch_parsers(sub: Any, add_engine_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    helps = {
        "batch": "run many tasks concurrently against a served model; writes SWE-bench predictions",
        "eval": "run tasks and score them with their tests: resolved / not resolved, and the rate",
    }
    for name, text in helps.items():
        parser = sub.add_parser(name, help=text)
        parser.add_argument("tasks", type=Path, help="a JSON-lines task file, or a task set folder")
        add_engine_flags(parser)
        parser.add_argument("--oracle", action="store_true", help="replay each task's reference fix")
        parser.add_argument("--workers", type=int, default=1, help="tasks run at once (default 1)")
        parser.add_argument("--out", type=Path, help="output folder (default agent-runs/NAME); rerun resumes")
        parser.add_argument("--only", nargs="+", metavar="ID", help="run only these task ids")
        parser.add_argument("--limit", type=int, help="run at most this many tasks")
        parser.add_argument("--max-steps", type=int, dest="max_steps", help="model turns of each run")
        parser.add_argument("--max-minutes", type=float, dest="max_minutes", help="budget of each run")
        parser.add_argument("--task-timeout", type=float, metavar="MINUTES", help="kill a task after this")
        parser.add_argument("--retry-errors", action="store_true", help="redo tasks that ended in an error")
        parser.add_argument("--model-name", help="model_name_or_path in the predictions file")


ENGINE_FLAGS = {  # `agent fix` flag -> attribute of the parsed engine flags, passed to every task
    "--model": "model",
    "--base-url": "base_url",
    "--server-model": "server_model",
    "--ctx": "n_ctx",
    "--threads": "threads",
    "--speculative": "speculative",
    "--thinking": "thinking",
    "--experts": "experts_used",
    "--kv-type": "kv_cache_type",
    "--parallel": "parallel",
    "--max-steps": "max_steps",
    "--max-minutes": "max_minutes",
}


def _agent_args(args: argparse.Namespace) -> list[str]:
    values = {flag: getattr(args, name, None) for flag, name in ENGINE_FLAGS.items()}
    values["--script"] = args.script.resolve() if args.script else None
    return [part for flag, value in values.items() if value is not None for part in (flag, str(value))]


def _check(args: argparse.Namespace, tasks: Sequence[Task]) -> None:
    from agent.batch.sources import RepoSource

    if args.oracle and (args.script or args.base_url or args.model):
        raise UsageError("--oracle is its own engine: drop --script, --base-url and --model")
    if args.workers > 1 and not (args.base_url or args.script or args.oracle):
        raise UsageError(
            "the embedded engine would load the model in every worker: use --workers 1, or serve the "
            "model (e.g. `llama-server -m MODEL.gguf --parallel 4`) and pass --base-url"
        )
    if args.command == "eval":
        unscored = [t.id for t in tasks if isinstance(t.source, RepoSource) and not t.spec.fail_to_pass]
        if unscored:
            names = ", ".join(unscored)
            raise UsageError(f"eval needs fail_to_pass test ids; these tasks have none: {names}")


def _summary(command: str, results: Sequence[TaskResult]) -> str:
    lines = [f"{'task':<40} {'result':<13} {'agent':<13} {'steps':>5} {'time':>7}"]
    for r in results:
        verdict = r.status if r.resolved is None else ("resolved" if r.resolved else "not resolved")
        lines.append(f"{r.id:<40} {verdict:<13} {r.status:<13} {r.steps:>5} {r.seconds:>6.0f}s")
    if command == "eval":
        resolved = sum(bool(r.resolved) for r in results)
        rate = 100 * resolved / len(results) if results else 0.0
        lines.append(f"resolved: {resolved}/{len(results)} ({rate:.1f}%)")
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        lines.append(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


def _scoring() -> SandboxFor:
    """The sandbox eval scores in, from the user's config (bubblewrap unless they chose `none`);
    bubblewrap is probed now, so a machine without it fails before any task is built."""
    from agent.build import probe, scoring_sandbox, warn
    from agent.config import load_config

    config = load_config(None, {})
    bwrap = probe(config)
    warn(config, sys.stderr)
    return lambda read_paths: scoring_sandbox(config, read_paths, bwrap)


def _terminate(signum: int, frame: FrameType | None) -> None:
    from agent.batch.worker import Terminated

    raise Terminated


def cmd_batch(args: argparse.Namespace) -> int:
    from agent.batch.progress import Progress
    from agent.batch.results import ResultStore, atomic_write
    from agent.batch.runner import BatchRunner, pending
    from agent.batch.tasks import TaskFileError, load_tasks
    from agent.batch.worker import RunSettings
    from agent.engines.oracle import ORACLE_MODEL

    try:
        tasks = load_tasks(args.tasks.resolve(), args.only or (), args.limit)
    except TaskFileError as exc:
        raise UsageError(str(exc)) from exc
    _check(args, tasks)
    out = (args.out or Path("agent-runs") / f"{args.tasks.resolve().stem}-{args.command}").resolve()
    model_name = args.model_name or (ORACLE_MODEL if args.oracle else None)
    store = ResultStore(out, model_name)
    timeout = (args.task_timeout or (args.max_minutes or 30.0) + 15.0) * 60
    evaluate = args.command == "eval"
    scoring = _scoring() if evaluate else None
    settings = RunSettings(out, tuple(_agent_args(args)), evaluate, args.oracle, timeout, scoring)
    todo = pending(tasks, store, args.retry_errors)
    progress = Progress(sys.stderr, len(tasks), len(tasks) - len(todo), live=sys.stderr.isatty())
    runner = BatchRunner(tasks, settings, store, progress, args.workers)
    print(
        f"agent {args.command}: {len(tasks)} tasks, {len(tasks) - len(todo)} already finished, "
        f"{args.workers} workers, output in {out}",
        file=sys.stderr,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        results = runner.run(todo)
    except KeyboardInterrupt:
        print("\ninterrupted: finished tasks are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(_summary(args.command, results))
    summary = {
        "tasks": len(tasks),
        "resolved": sum(bool(r.resolved) for r in results) if args.command == "eval" else None,
        "results": {r.id: r.model_dump(include=SUMMARY_FIELDS) for r in results},
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    print(f"results: {store.dir}  predictions: {out / 'predictions.jsonl'}", file=sys.stderr)
    return EXIT_NOT_RESOLVED if any(r.status in HARNESS_FAILURES for r in results) else EXIT_OK
