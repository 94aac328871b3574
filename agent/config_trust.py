"""Trust for a repository's own `.agent.toml`: which of its settings wait for `agent trust`, and the record.

A repository's config file comes with the code, so it is not trusted: settings that start programs, pick
an endpoint or a credential, open the network, relax the sandbox, its limits or approval, or name a
model file (`GATES`) apply only once the user has run `agent trust` in that repository, which records
the file's SHA-256 under the repository root's resolved path in the *user* config:

    [trusted_projects."/home/me/src/app"]
    sha256 = "9f2c..."

A changed file is untrusted again. Until then those settings are ignored (a project value that is as
strict as the one in effect, or stricter, still applies) and `Untrusted.notice()` says so in one line.
Every other key is classified in `ALLOWED`; a key in neither is held back like a gated one.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.subprocess_sandbox import Limits

TRUST_TABLE = "trusted_projects"
PROJECT_CONFIG = ".agent.toml"

# (the project's value, the value in effect without it) -> True when the project's is no weaker
NoWeaker = Callable[[Any, Any], bool]


def unchanged(project: Any, current: Any) -> bool:
    """The project value changes nothing (a table: every key it gives has that value already)."""
    if isinstance(project, Mapping):
        return isinstance(current, Mapping) and all(
            key in current and unchanged(value, current[key]) for key, value in project.items()
        )
    return bool(project == current)


def _at_most(project: Any, current: Any) -> bool:
    """A limit: lower (or equal) is stricter; None is no limit."""
    return current is None or (project is not None and project <= current)


def _rank(*weakest_first: str) -> NoWeaker:
    def no_weaker(project: Any, current: Any) -> bool:
        return weakest_first.index(project) >= weakest_first.index(current)

    return no_weaker


def _not_opened(project: Any, current: Any) -> bool:
    """A switch that opens something: off, or on only where it already was."""
    return not project or bool(current)


def _not_switched_off(project: Any, current: Any) -> bool:
    """A check: on, or off only where it already was."""
    return bool(project) or not current


@dataclass(frozen=True)
class Gate:
    key: str  # dotted, as in the file: "sandbox.policy"
    why: str  # what the setting could do, for `agent trust` and docs/security.md
    no_weaker: NoWeaker = unchanged  # a project value that passes applies without trust


GATES: tuple[Gate, ...] = (
    Gate("mcp_servers", "starts programs on your machine, or sends tool calls to servers"),
    Gate("sandbox.setup_command", "runs a command with the network on"),
    Gate("base_url", "sends your code and the API key to a server"),
    Gate("api_key_env", "chooses which of your environment variables is sent as the API key"),
    Gate("server_model", "chooses the model your server runs (and bills you for)"),
    Gate("python", "runs the tests with an interpreter whose environment the sandbox then shows (read-only)"),
    Gate("model", "loads a model file (llama.cpp parses it on your machine)"),
    Gate("model_dirs", "adds folders that model names are looked up in"),
    Gate("fit_check", "turns off the memory and GGUF header check before a model loads", _not_switched_off),
    Gate("sandbox.backend", "turns the sandbox off", _rank("none", "bubblewrap")),
    Gate("sandbox.policy", "gives commands the network", _rank("network", "workspace", "read-only")),
    Gate("sandbox.approval", "stops asking you before commands", _rank("never", "always")),
    Gate("sandbox.read_paths", "shows commands more of your files"),
    Gate("sandbox.setup_timeout", "lets the setup command run longer", _at_most),
    Gate("sandbox.tmpfs_bytes", "gives commands more memory for /tmp", _at_most),
    Gate("sandbox.output_limit", "keeps more of a command's output", _at_most),
    *(
        Gate(f"sandbox.limits.{name}", "raises a command's resource limit", _at_most)
        for name in Limits.model_fields
    ),
    Gate("command_timeout", "lets commands run longer", _at_most),
    Gate("web_fetch.enabled", "gives the model the web", _not_opened),
    Gate("web_fetch.allow_private", "lets the model reach private and loopback addresses", _not_opened),
    Gate("web_fetch.allow_domains", "chooses the sites the model may fetch"),
    *(
        Gate(f"web_fetch.{name}", "raises a web_fetch limit", _at_most)
        for name in ("max_bytes", "timeout", "max_redirects", "output_chars")
    ),
)
GATE_BY_KEY = {gate.key: gate for gate in GATES}
# Tables whose keys are classified one by one (every other table is classified whole).
CLASSIFIED_TABLES = frozenset({"sandbox", "sandbox.limits", "web_fetch"})
# Harmless in a repository's hands: budgets, loop behaviour, model knobs (the fit check still guards
# memory), and test_command (it runs in the sandbox like any command the model runs).
ALLOWED = frozenset(
    {
        "n_ctx", "prompt_cache", "threads", "speculative", "temperature", "max_steps", "max_minutes",
        "max_tokens",
        "max_attempts", "edit_tests", "test_after_edit", "undo_regressions", "edit_samples", "plan",
        "repair", "repair_drafts", "repair_share", "reproduce", "reproduce_drafts", "test_command",
        "context_budget", "instructions_budget",
        "mcp_tools_budget", "mcp_tool_max_tokens", "thinking", "experts_used", "kv_cache_type", "parallel",
        "models", "tool_format",
    }
)  # fmt: skip


def held_back(project: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Keys of `project` that need trust: gated ones that would weaken `current`, and unclassified ones."""
    found: list[str] = []
    for name, value in project.items():
        key = f"{prefix}{name}"
        now = current.get(name) if isinstance(current, Mapping) else None
        gate = GATE_BY_KEY.get(key)
        if gate is not None:
            if not _passes(gate, value, now):
                found.append(key)
        elif key in CLASSIFIED_TABLES and isinstance(value, Mapping):
            found += held_back(value, now if isinstance(now, Mapping) else {}, f"{key}.")
        elif key not in ALLOWED:
            found.append(key)
    return found


def _passes(gate: Gate, value: Any, now: Any) -> bool:
    if unchanged(value, now):
        return True
    try:
        return gate.no_weaker(value, now)
    except (TypeError, ValueError):  # not comparable: treat it as weaker
        return False


def without(data: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """`data` without the dotted `keys` (tables left empty are dropped)."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if name in keys:
            continue
        inner = [k.removeprefix(f"{name}.") for k in keys if k.startswith(f"{name}.")]
        if inner and isinstance(value, Mapping):
            value = without(value, inner)
            if not value:
                continue
        kept[name] = value
    return kept


def value_at(data: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


class ProjectFile(BaseModel):
    """A repository's `.agent.toml`, read once: the settings and the SHA-256 of the bytes they came from."""

    path: Path
    data: dict[str, Any]
    sha256: str
    text: str


def read_project_file(root: Path) -> ProjectFile | None:
    """The file at `root`, or None; `ValueError` when it cannot be read or parsed."""
    path = root / PROJECT_CONFIG
    if not path.is_file():
        return None
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from exc
    return ProjectFile(path=path, data=data, sha256=hashlib.sha256(raw).hexdigest(), text=text)


class TrustRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def trust_key(root: Path) -> str:
    """Records are keyed by the repository root's resolved path."""
    return str(root.resolve())


def parse_records(table: Any) -> dict[str, TrustRecord]:
    """The `[trusted_projects]` table of the user config; `ValueError` naming what is wrong."""
    if not isinstance(table, Mapping):
        raise ValueError(f"`{TRUST_TABLE}` must be a table of repository paths")
    try:
        return {str(path): TrustRecord.model_validate(entry) for path, entry in table.items()}
    except ValidationError as exc:
        raise ValueError(f"invalid `{TRUST_TABLE}` entry (write it with `agent trust`):\n{exc}") from exc


class Untrusted(BaseModel):
    """What a run ignored from a repository's config file, and why."""

    path: Path
    keys: list[str]
    changed: bool = False  # it was trusted, then the file changed

    def notice(self) -> str:
        state = "changed since you trusted it" if self.changed else "not trusted"
        return (
            f"ignored {', '.join(self.keys)} from {self.path} ({state}); "
            f"review and trust it with `agent trust` in {self.path.parent}"
        )


def untrusted_part(
    project: ProjectFile, current: Mapping[str, Any], records: Mapping[str, TrustRecord]
) -> Untrusted | None:
    """What of `project` must be ignored: None when the exact file is trusted or nothing needs trust."""
    record = records.get(trust_key(project.path.parent))
    if record is not None and record.sha256 == project.sha256:
        return None
    keys = held_back(project.data, current)
    if not keys:
        return None
    return Untrusted(path=project.path, keys=keys, changed=record is not None)


def _load_document(path: Path) -> Any:  # a tomlkit document: the user's comments and layout are kept
    import tomlkit

    if not path.is_file():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.ParseError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from exc


def _save_document(path: Path, doc: Any) -> None:
    import tomlkit

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(tomlkit.dumps(doc), encoding="utf-8")
    partial.replace(path)  # never a half-written config


def record_trust(user_config: Path, project: ProjectFile) -> None:
    """Record in the user config that `project`, byte for byte, is trusted."""
    import tomlkit

    doc = _load_document(user_config)
    table = doc.setdefault(TRUST_TABLE, tomlkit.table(is_super_table=True))
    entry = tomlkit.table()
    entry["sha256"] = project.sha256
    table[trust_key(project.path.parent)] = entry
    _save_document(user_config, doc)


def revoke_trust(user_config: Path, root: Path) -> bool:
    """Drop the record for the repository at `root`; False when there was none."""
    doc = _load_document(user_config)
    table: Any = doc.get(TRUST_TABLE)
    key = trust_key(root)
    if table is None or key not in table:
        return False
    del table[key]
    if not table:
        del doc[TRUST_TABLE]
    _save_document(user_config, doc)
    return True
