"""`agent trust [--list | --revoke] [--yes]`: review a repository's `.agent.toml` and trust that exact file.

The file is shown (control characters escaped, so it cannot hide a line from the terminal) with the
settings that wait for trust and what each could do; the record goes into the user config with the
file's SHA-256. The trust logic is in agent/config_trust.py; this module only talks to the person.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from agent.config import AgentConfig, ConfigError, check_project, load_config, trusted_files, user_config_path
from agent.config_trust import (
    GATE_BY_KEY,
    PROJECT_CONFIG,
    ProjectFile,
    held_back,
    read_project_file,
    record_trust,
    revoke_trust,
    trust_key,
    value_at,
)
from agent.run.exitcodes import EXIT_NOT_RESOLVED, EXIT_OK, EXIT_USAGE
from agent.run.workspace import WorkspaceError, open_repo

# C0 and C1 controls (terminal escapes, carriage returns) and bidirectional overrides (text shown in
# another order than it is read): shown escaped, so the file cannot hide a line from the person
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def add_trust_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "trust", help=f"review this repository's {PROJECT_CONFIG} and trust the settings that need it"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--list", action="store_true", help="the repositories you trust, and their files' state"
    )
    mode.add_argument("--revoke", action="store_true", help="stop trusting this repository's file")
    parser.add_argument("--yes", action="store_true", help="trust without asking (after reading the file)")


def printable(text: str) -> str:
    """`text` with control and bidirectional characters shown as \\uNNNN."""
    return CONTROL.sub(lambda m: json.dumps(m.group()).strip('"'), text)


def _root(repo: Path) -> Path:
    try:
        found = open_repo(repo)
    except WorkspaceError:
        return repo.resolve()
    return Path(found.working_tree_dir or repo).resolve()


def cmd_trust(args: argparse.Namespace, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    try:
        return _run(args, out or sys.stdout, stdin or sys.stdin)
    except ValueError as exc:  # a config file that cannot be read or written
        raise ConfigError(str(exc)) from exc


def _run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if args.list:
        return _list(out)
    root = _root(args.repo)
    if args.revoke:
        if revoke_trust(user_config_path(), root):
            print(f"no longer trusting {root / PROJECT_CONFIG}", file=out)
            return EXIT_OK
        print(f"agent: {root} was not trusted", file=sys.stderr)
        return EXIT_NOT_RESOLVED
    project = read_project_file(root)
    if project is None:
        print(f"agent: no {PROJECT_CONFIG} in {root}: nothing to trust", file=sys.stderr)
        return EXIT_USAGE
    return _trust(project, out, stdin, args.yes)


def _trust(project: ProjectFile, out: TextIO, stdin: TextIO, yes: bool) -> int:
    check_project(project)
    keys = held_back(project.data, load_config(None, {}).file_dump())
    record = trusted_files().get(trust_key(project.path.parent))
    _show(project, keys, out)
    if not keys:
        print("nothing in it needs trust: it applies as it is", file=out)
        return EXIT_OK
    if record is not None and record.sha256 == project.sha256:
        print("this exact file is already trusted", file=out)
        return EXIT_OK
    refused = None if yes else _ask(out, stdin)
    if refused is not None:
        return refused
    record_trust(user_config_path(), project)
    print(
        f"trusted {project.path} (sha256 {project.sha256[:16]}...), recorded in {user_config_path()}; "
        "if the file changes, run `agent trust` again",
        file=out,
    )
    return EXIT_OK


def _show(project: ProjectFile, keys: list[str], out: TextIO) -> None:
    print(f"{project.path} (sha256 {project.sha256}):", file=out)
    for line in printable(project.text).splitlines():
        print(f"  | {line}", file=out)
    if not keys:
        return
    print("settings ignored until you trust this exact file:", file=out)
    for key in keys:
        gate = GATE_BY_KEY.get(key)
        why = gate.why if gate else "a setting not classified as harmless"
        print(f"  {key} = {printable(repr(value_at(project.data, key)))}\n      {why}", file=out)


def _ask(out: TextIO, stdin: TextIO) -> int | None:
    """None when the person says yes, else the exit code."""
    if not stdin.isatty():
        print(
            "agent: no terminal to ask on: after reading the file, run `agent trust --yes`", file=sys.stderr
        )
        return EXIT_USAGE
    print("Trust this file? [y/N] ", end="", file=out, flush=True)
    if stdin.readline().strip().lower() in ("y", "yes"):
        return None
    print("not trusted", file=out)
    return EXIT_NOT_RESOLVED


def _list(out: TextIO) -> int:
    records = trusted_files()
    if not records:
        print(f"no trusted repositories (`agent trust` in one records its {PROJECT_CONFIG})", file=out)
        return EXIT_OK
    for key, record in sorted(records.items()):
        try:
            project = read_project_file(Path(key))
        except ValueError:
            project = None
        if project is None:
            state = "file missing"
        else:
            same = project.sha256 == record.sha256
            state = "trusted" if same else "changed since (its gated settings are ignored)"
        print(f"{key}  {record.sha256[:12]}  {state}", file=out)
    return EXIT_OK


def warn_untrusted(config: AgentConfig, err: TextIO | None = None) -> None:
    """For the commands that print: the one line naming what the repository's config had ignored."""
    notice = config.untrusted_notice()
    if notice:
        print(f"agent: {notice}", file=err or sys.stderr)
