"""The `[web_fetch]` settings (kept apart from the tool so loading a config imports no HTTP code)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WebFetchConfig(BaseModel):
    """The `[web_fetch]` table."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Add web_fetch to the model's tools."""
    allow_domains: list[str] = []
    """Sites the model may fetch ("docs.python.org", "*.readthedocs.io"); empty: none in a headless run."""
    allow_private: bool = False
    """Also reach private and loopback addresses (local documentation servers)."""
    max_bytes: int = 2_000_000
    """Bytes of a response read, at most."""
    timeout: float = 20.0
    """Seconds for the whole fetch, redirects included."""
    max_redirects: int = 5
    """Redirects followed, at most."""
    output_chars: int = 20_000
    """Characters of the page handed to the model, at most."""
