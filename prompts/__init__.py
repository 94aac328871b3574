"""Prompt templates, shipped as package data and rendered with strict undefined variables."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def load(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")


def render(name: str, **variables: Any) -> str:
    """Render `prompts/<name>.md`; a variable the template uses but was not given is an error."""
    return _environment().from_string(load(name)).render(**variables).strip()
