"""The `[web_fetch]` settings (kept apart from the tool so loading a config imports no HTTP code)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WebFetchConfig(BaseModel):
    """The `[web_fetch]` table."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False  # adds web_fetch to the model's tools
    allow_domains: list[str] = []  # "docs.python.org", "*.readthedocs.io"; empty: nothing, headless
    allow_private: bool = False  # also reach private and loopback addresses (local doc servers)
    max_bytes: int = 2_000_000
    timeout: float = 20.0  # seconds for the whole fetch, redirects included
    max_redirects: int = 5
    output_chars: int = 20_000
