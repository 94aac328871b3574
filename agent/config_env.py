"""Settings from `AGENT_*` environment variables, read with pydantic-settings.

Every key a config file may hold has a variable: the key upper-cased after `AGENT_`, a table's key
after a double underscore (`AGENT_MAX_STEPS=20`, `AGENT_REPAIR=off`, `AGENT_SANDBOX__POLICY=read-only`,
`AGENT_SANDBOX__LIMITS__CPU_SECONDS=600`). Lists and tables are JSON (`AGENT_MODEL_DIRS='["~/gguf"]'`,
`AGENT_SANDBOX='{"policy": "network"}'`). An empty variable counts as not set. The environment is the
user's own, so its settings apply like flags do, without `agent trust`; flags still win over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.exceptions import SettingsError

ENV_PREFIX = "AGENT_"
NESTED = "__"


def env_name(key: str) -> str:
    """The variable for a dotted file key: `sandbox.policy` -> `AGENT_SANDBOX__POLICY`."""
    return ENV_PREFIX + key.replace(".", NESTED).upper()


class EnvError(ValueError):
    """A variable's value is not a valid setting; the message names the variable."""


class _GivenEnv(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = {name.lower(): value for name, value in env.items() if value != ""}
        super().__init__(
            settings_cls, case_sensitive=False, env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given


def read_env(env: Mapping[str, str], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The settings `env` gives, shaped like a config file: {file key: value} for `fields`
    ({file key: its type}); values are still to be validated. `EnvError` for JSON that does not parse."""
    definitions: dict[str, Any] = {key: (kind, None) for key, kind in fields.items()}
    shape = create_model("AgentEnvironment", __base__=BaseSettings, **definitions)
    try:
        found = _GivenEnv(shape, env)()
    except SettingsError as exc:
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
        name = env_name(field) if field else "an AGENT_* variable"
        raise EnvError(f"{name}: not valid JSON (give lists and tables as JSON, e.g. '[\"a\"]')") from exc
    return {key: value for key, value in found.items() if value is not None}


def describe_errors(exc: ValidationError, env: Mapping[str, str]) -> str:
    """A validation error of environment settings (locations as in a file), one line per variable."""
    given = {name.upper(): value for name, value in env.items()}
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        name = env_name(key)
        shown = f"={given[name]!r}" if name in given else ""
        lines.append(f"environment variable {name}{shown}: {error['msg']}")
    return "\n".join(lines)
