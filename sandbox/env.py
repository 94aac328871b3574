"""The environment a sandboxed command sees: an allow-list, never a secret."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

ALLOWED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "TMPDIR",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PIP_INDEX_URL",
        "PIP_FIND_LINKS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CI",
    }
)
ALLOWED_PREFIXES = ("LC_",)
SECRET = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE|AUTH|SESSION|COOKIE", re.IGNORECASE)


def scrubbed_env(
    source: Mapping[str, str] = os.environ,
    extra_allowed: Iterable[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Keep only allow-listed variables; anything that looks like a secret is dropped regardless."""
    allowed = ALLOWED | set(extra_allowed)
    env = {
        key: value
        for key, value in source.items()
        if (key in allowed or key.startswith(ALLOWED_PREFIXES)) and not SECRET.search(key)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    for key, value in (overrides or {}).items():
        if not SECRET.search(key):
            env[key] = value
    return env
