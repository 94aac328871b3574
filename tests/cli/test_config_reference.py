"""docs/configuration.md is what `python -m agent.config_reference` writes from the config models, and
those models describe every field; every key a file may hold and every trust gate is in it."""

from __future__ import annotations

import subprocess
import sys

from pydantic import BaseModel

from agent.config import TABLES, AgentConfig
from agent.config_env import env_name
from agent.config_trust import GATES
from tests.paths import ROOT

REFERENCE = ROOT / "docs" / "configuration.md"


def test_the_checked_in_reference_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent.config_reference", "--check", str(REFERENCE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for inner in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                found += _models(inner)
    return found


def test_every_config_field_has_a_description() -> None:
    models = _models(AgentConfig)
    assert len(models) >= 10  # sections, tables, per-model knobs and MCP server entries
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        if model is not AgentConfig
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == []


def test_every_file_key_its_variable_and_every_gate_are_in_the_reference() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for key in AgentConfig.file_keys():
        row = f"## `[{key}]`" if key in TABLES else f"| `{key}` |"
        assert row in text and f"`{env_name(key)}" in text, key
    for gate in GATES:
        assert f"| `{gate.key}` |" in text, gate.key
