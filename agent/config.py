"""Configuration: defaults < user file < project file < command-line flags, merged in one place."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from agent.formats import ToolFormatName
from agent.knobs import KNOB_KEYS, KvCacheType, ModelKnobs, ResolvedKnobs, Thinking, resolve_knobs
from agent.mcp.config import McpServerConfig
from agent.trust import (
    PROJECT_CONFIG,
    TRUST_TABLE,
    ProjectFile,
    TrustRecord,
    Untrusted,
    parse_records,
    read_project_file,
    untrusted_part,
    without,
)
from sandbox.config import SandboxConfig
from tools.web_config import WebFetchConfig

__all__ = [
    "PROJECT_CONFIG",
    "AgentConfig",
    "ConfigError",
    "check_project",
    "load_config",
    "trusted_files",
    "user_config_dir",
    "user_config_path",
]


class ConfigError(Exception):
    """A config file is unreadable or has a wrong key or value."""


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None  # a GGUF path or a catalogue name (`agent models list`)
    base_url: str | None = None  # an OpenAI-compatible server; replaces the embedded engine
    server_model: str = ""  # model name to request from the server ("" = the server's first)
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the server's API key
    n_ctx: int = 16384
    # keep the KV state of the system prompt and tool schemas on disk between sessions
    # (agent/engines/prefix_cache.py): the 1.5B model spent 45 s of every run prefilling them
    prompt_cache: bool = True
    threads: int | None = None
    temperature: float = 0.0
    max_steps: int = 50  # model turns, the repair phase's replies (at most repair_share of them) included
    max_minutes: float = 30.0
    max_tokens: int = 2_000_000
    max_attempts: int = 5  # a stuck attempt is set aside and the task started again (agent/loop/attempts.py)
    edit_tests: bool = False  # let the model change the repository's existing test files
    test_after_edit: bool = True  # the loop runs the tests after each edit (off for slow suites)
    undo_regressions: bool = False  # with it: an edit that makes more tests fail is undone at once
    # with tests after edits: an edit that leaves tests failing is tried against up to this many
    # edits drawn for the same turn in all, and the one with the fewest failing goes on (1: off)
    edit_samples: int = Field(default=4, ge=1, le=16)
    plan: bool = True
    # draft-and-test repair before the tool-calling loop when the tests show the bug (agent/loop/repair.py):
    # "auto" (on with a real model), "always" or "off"
    repair: Literal["auto", "always", "off"] = "auto"
    repair_drafts: int = Field(default=30, ge=1, le=500)  # replies drawn in it, at most
    repair_share: float = Field(default=0.7, gt=0.0, le=1.0)  # of the time budget, at most
    # when no test shows the bug: the model writes one from the issue first (agent/loop/reproduce.py),
    # kept when it fails for the reason the issue states: "auto" (with a real model), "always", "off"
    reproduce: Literal["auto", "always", "off"] = "auto"
    reproduce_drafts: int = Field(default=8, ge=1, le=100)  # reproduction tests drafted, at most
    test_command: str | None = None
    command_timeout: float = 300.0
    # Tokens of repository context in the first prompt; None or "auto": min(200K, the model's
    # context minus room for the conversation). Relevance decides how much of it is used.
    context_budget: int | Literal["auto"] | None = None
    instructions_budget: int = 2000  # of those, at most this many for AGENTS.md (agent/instruction_prompt.py)
    mcp_servers: dict[str, McpServerConfig] = {}  # `agent mcp add`; user and project entries both apply
    mcp_tools_budget: int = 3000  # tokens of MCP tool schemas offered to the model
    mcp_tool_max_tokens: int = 1000  # a single MCP tool's schema above this is left out (reported)
    # model knobs (agent/knobs.py); per model in [models."<glob>"] tables
    thinking: Thinking | None = None  # off | high | max; None: the model's default
    experts_used: int | None = None  # MoE experts per token (a GGUF metadata override)
    kv_cache_type: KvCacheType | None = None  # f16 | q8_0 | q4_0; None: f16 unless it does not fit
    parallel: int = 1  # sequences decoded together (llama-server -np; the embedded engine runs one)
    models: dict[str, ModelKnobs] = {}
    model_dirs: list[str] = []  # folders `agent models list` searches for GGUF files
    fit_check: bool = True  # estimate memory before loading; refuse a model that cannot fit
    # the model's tool-call wire format (agent/formats); None: found from its chat template
    tool_format: ToolFormatName | None = None
    sandbox: SandboxConfig = SandboxConfig()  # [sandbox]: backend, policy, approval, setup_command
    web_fetch: WebFetchConfig = WebFetchConfig()  # [web_fetch]: off unless enabled
    _flags: frozenset[str] = PrivateAttr(default=frozenset())
    _untrusted: Untrusted | None = PrivateAttr(default=None)

    @property
    def untrusted(self) -> Untrusted | None:
        """What was ignored from the repository's `.agent.toml` until `agent trust` (agent/trust.py)."""
        return self._untrusted

    def untrusted_notice(self) -> str | None:
        """The one line saying so, for the CLI, `agent fix`'s events and the TUI; None when nothing was."""
        return self._untrusted.notice() if self._untrusted is not None else None

    def knobs_for(self, *names: str) -> ResolvedKnobs:
        """The knobs for a model known by `names` (file name, catalogue name): flags > table > top."""
        top = ModelKnobs.model_validate({k: getattr(self, k) for k in KNOB_KEYS})
        return resolve_knobs(top, set(self.model_fields_set), self.models, set(self._flags), list(names))


def user_config_path(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "local-agent" / "config.toml"


def user_config_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where the user config file and the user-level AGENTS.md live."""
    return user_config_path(env).parent


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key (a project's [sandbox] keeps the user's other sandbox keys);
    None means "not given" and changes nothing."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = _merge({}, value)
        elif value is not None:
            merged[key] = value
    return merged


def _given(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_given(v) for v in value.values())
    return value is not None


def _validated(data: dict[str, Any], path: Path) -> dict[str, Any]:
    try:
        AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config file {path}:\n{exc}") from exc
    return data


def _user_settings(path: Path) -> tuple[dict[str, Any], dict[str, TrustRecord]]:
    """The user config's settings, and its record of trusted repository config files."""
    data = _read_toml(path)
    try:
        records = parse_records(data.pop(TRUST_TABLE, {}))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return _validated(data, path), records


def trusted_files(env: Mapping[str, str] = os.environ) -> dict[str, TrustRecord]:
    """The user config's record of trusted repository config files (`agent trust`), by repository path."""
    return _user_settings(user_config_path(env))[1]


def _project_file(repo_root: Path) -> ProjectFile | None:
    try:
        project = read_project_file(repo_root)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if project is not None:
        check_project(project)
    return project


def check_project(project: ProjectFile) -> None:
    """A repository's file may set what AgentConfig has, and never trust itself."""
    if TRUST_TABLE in project.data:
        raise ConfigError(
            f"{project.path} may not contain `{TRUST_TABLE}`: trust is recorded in your own config, "
            f"by `agent trust` run in the repository. Remove the table from {project.path.name}."
        )
    _validated(project.data, project.path)


def _in_effect(merged: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting as defaults, the user file and flags make it: what a project value may not weaken."""
    try:
        return AgentConfig.model_validate(_merge(merged, overrides)).model_dump()
    except ValidationError as exc:
        raise ConfigError(f"invalid setting:\n{exc}") from exc


def load_config(
    repo_root: Path | None, overrides: Mapping[str, Any], env: Mapping[str, str] = os.environ
) -> AgentConfig:
    """Merge the config files with `overrides` (flags the user gave; None means not given).

    Of the repository's `.agent.toml`, settings that need trust (agent/trust.py) apply only when the
    user trusted this exact file; otherwise they are left out and `config.untrusted` says which."""
    user_path = user_config_path(env)
    merged, records = _user_settings(user_path)
    untrusted: Untrusted | None = None
    project = _project_file(repo_root) if repo_root is not None else None
    if project is not None:
        untrusted = untrusted_part(project, _in_effect(merged, overrides), records)
        merged = _merge(merged, without(project.data, untrusted.keys) if untrusted else project.data)
    flags = {k for k, v in overrides.items() if _given(v)}
    merged = _merge(merged, overrides)
    try:
        config = AgentConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid setting:\n{exc}") from exc
    config._flags = frozenset(flags)
    config._untrusted = untrusted
    return config
