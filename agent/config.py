"""Configuration, merged in one place: defaults < user file < project file (its gated keys only once
trusted) < `--config FILE` < `AGENT_*` environment variables (agent/config_env.py) < command-line flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from agent.config_env import EnvError, describe_errors, read_env
from agent.config_sections import (
    ContextConfig,
    EngineConfig,
    LoopConfig,
    McpConfig,
    RepairConfig,
    ReproduceConfig,
)
from agent.config_trust import (
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
from agent.errors import UserError
from agent.models.knobs import KNOB_KEYS, ModelKnobs, ResolvedKnobs, resolve_knobs
from sandbox.config import SandboxConfig
from tools.web.config import WebFetchConfig

__all__ = [
    "PROJECT_CONFIG",
    "AgentConfig",
    "ConfigError",
    "ContextConfig",
    "EngineConfig",
    "LoopConfig",
    "McpConfig",
    "RepairConfig",
    "ReproduceConfig",
    "check_project",
    "load_config",
    "trusted_files",
    "user_config_dir",
    "user_config_path",
]


class ConfigError(UserError):
    """A config file is unreadable or has a wrong key or value."""


# The config file's top level holds the sections' keys flat (`max_steps = 20`, `repair = "off"`), as
# it always did; `AgentConfig._sections` puts each into its section. Within AgentConfig a section
# answers to a name no file key can take by accident, so `[loop]` in a file stays an unknown key.
FLAT_SECTIONS: dict[str, type[BaseModel]] = {
    "engine": EngineConfig,
    "loop": LoopConfig,
    "repair": RepairConfig,
    "reproduce": ReproduceConfig,
    "context": ContextConfig,
    "mcp": McpConfig,
}
TABLES = ("sandbox", "web_fetch")  # sections that are tables in the file


def _inner(section: str) -> str:
    return f"<{section}>"


def _file_keys(model: type[BaseModel]) -> dict[str, str]:
    """A section's keys in the file -> its field names."""
    return {field.alias or name: name for name, field in model.model_fields.items()}


class AgentConfig(BaseModel):
    """Every setting, in sections: engine, loop, repair, context, mcp (flat keys in the file) and the
    `[sandbox]` and `[web_fetch]` tables. Built from the file's shape: `AgentConfig(max_steps=3)`."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineConfig = Field(default=EngineConfig(), validation_alias=_inner("engine"))
    loop: LoopConfig = Field(default=LoopConfig(), validation_alias=_inner("loop"))
    repair: RepairConfig = Field(default=RepairConfig(), validation_alias=_inner("repair"))
    reproduce: ReproduceConfig = Field(default=ReproduceConfig(), validation_alias=_inner("reproduce"))
    context: ContextConfig = Field(default=ContextConfig(), validation_alias=_inner("context"))
    mcp: McpConfig = Field(default=McpConfig(), validation_alias=_inner("mcp"))
    sandbox: SandboxConfig = SandboxConfig()  # [sandbox]: backend, policy, approval, setup_command
    web_fetch: WebFetchConfig = WebFetchConfig()  # [web_fetch]: off unless enabled
    _flags: frozenset[str] = PrivateAttr(default=frozenset())
    _untrusted: Untrusted | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        """The one place the file's flat keys are put into their sections."""
        if not isinstance(data, Mapping):
            return data
        shaped = dict(data)
        for section, model in FLAT_SECTIONS.items():
            if _inner(section) in shaped:
                raise ValueError(f"unknown key {_inner(section)!r}")
            keys = _file_keys(model)
            values = {key: shaped.pop(key) for key in list(shaped) if key in keys}
            if values:
                shaped[_inner(section)] = values
        return shaped

    @classmethod
    def file_keys(cls) -> list[str]:
        """The keys a config file's top level may hold."""
        return [key for model in FLAT_SECTIONS.values() for key in _file_keys(model)] + list(TABLES)

    def file_dump(self) -> dict[str, Any]:
        """Every setting as a config file would hold it (flat keys, the tables nested)."""
        flat: dict[str, Any] = {}
        for section in FLAT_SECTIONS:
            flat.update(getattr(self, section).model_dump(by_alias=True))
        return {**flat, **{table: getattr(self, table).model_dump() for table in TABLES}}

    @property
    def untrusted(self) -> Untrusted | None:
        """What was ignored from the repository's `.agent.toml` until `agent trust` (config_trust.py)."""
        return self._untrusted

    def untrusted_notice(self) -> str | None:
        """The one line saying so, for the CLI, `agent fix`'s events and the TUI; None when nothing was."""
        return self._untrusted.notice() if self._untrusted is not None else None

    def named_python(self) -> tuple[str, Literal["flag", "config"]] | None:
        """The interpreter the user named for the tests, and whether by `--python` or the config."""
        if not self.loop.python:
            return None
        return self.loop.python, "flag" if "python" in self._flags else "config"

    def knobs_for(self, *names: str) -> ResolvedKnobs:
        """The knobs for a model known by `names` (file name, catalogue name): flags > table > top."""
        engine = self.engine
        top = ModelKnobs.model_validate({k: getattr(engine, k) for k in KNOB_KEYS})
        return resolve_knobs(top, set(engine.model_fields_set), engine.models, set(self._flags), list(names))


def _as_in_the_file(exc: ValidationError) -> ValidationError:
    """`exc` with each error where the file has it: `max_steps`, not the section's `<loop>.max_steps`."""
    inner = {_inner(section) for section in FLAT_SECTIONS}
    errors = [
        {**error, "loc": error["loc"][1:] if error["loc"][:1] and error["loc"][0] in inner else error["loc"]}
        for error in exc.errors()
    ]
    try:
        return ValidationError.from_exception_data(exc.title, errors)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError):  # an error type that cannot be made again: as it was
        return exc


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
        raise ConfigError(f"invalid config file {path}:\n{_as_in_the_file(exc)}") from exc
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
        return AgentConfig.model_validate(_merge(merged, overrides)).file_dump()
    except ValidationError as exc:
        raise ConfigError(f"invalid setting:\n{_as_in_the_file(exc)}") from exc


def file_fields() -> dict[str, Any]:
    """Every key a config file's top level may hold, with its type (the environment is read with them)."""
    fields = {
        field.alias or name: field.annotation
        for model in FLAT_SECTIONS.values()
        for name, field in model.model_fields.items()
    }
    return {**fields, **{table: AgentConfig.model_fields[table].annotation for table in TABLES}}


def env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings the `AGENT_*` variables of `env` give; a `ConfigError` naming each wrong one."""
    try:
        data = read_env(env, file_fields())
    except EnvError as exc:
        raise ConfigError(f"invalid setting: environment variable {exc}") from exc
    try:
        AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid setting:\n{describe_errors(_as_in_the_file(exc), env)}") from exc
    return data


def _extra_file(path: Path | None) -> tuple[dict[str, Any], dict[str, TrustRecord]]:
    """`--config FILE`: the user's own, so trusted like the user file; it must exist."""
    if path is None:
        return {}, {}
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file (give the path of a TOML config file)")
    return _user_settings(path)


def load_config(
    repo_root: Path | None,
    overrides: Mapping[str, Any],
    env: Mapping[str, str] = os.environ,
    config_file: Path | None = None,
) -> AgentConfig:
    """Merge the config files, `--config FILE`, the `AGENT_*` variables of `env` and `overrides` (flags
    the user gave; None means not given), each over the one before.

    Of the repository's `.agent.toml`, settings that need trust (agent/config_trust.py) apply only when the
    user trusted this exact file; otherwise they are left out and `config.untrusted` says which. What it
    may not weaken is what the user's own layers (file, `--config`, environment, flags) make."""
    merged, records = _user_settings(user_config_path(env))
    extra, extra_records = _extra_file(config_file)
    from_env = env_settings(env)
    above = _merge(_merge(extra, from_env), overrides)  # the user's layers over the project file
    untrusted: Untrusted | None = None
    project = _project_file(repo_root) if repo_root is not None else None
    if project is not None:
        untrusted = untrusted_part(project, _in_effect(merged, above), {**records, **extra_records})
        merged = _merge(merged, without(project.data, untrusted.keys) if untrusted else project.data)
    flags = {k for k, v in overrides.items() if _given(v)} | set(from_env)  # both beat [models] tables
    merged = _merge(merged, above)
    try:
        config = AgentConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid setting:\n{_as_in_the_file(exc)}") from exc
    config._flags = frozenset(flags)
    config._untrusted = untrusted
    return config
