"""The environment a sandboxed command sees: an allow-list, and never anything that looks secret."""

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
        "CONDA_DEFAULT_ENV",
        "PIP_INDEX_URL",
        "PIP_FIND_LINKS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CI",
    }
)
ALLOWED_PREFIXES = ("LC_", "PYTHON")
# Interpreter hooks that run code nobody asked for, or change how python behaves interactively.
DENIED = frozenset({"PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONBREAKPOINT"})
# Checked on every name, allow-listed or not, and on overrides too.
SECRET = re.compile(r"TOKEN|KEY|SECRET|PASS|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE", re.IGNORECASE)
FIXED = {"PYTHONDONTWRITEBYTECODE": "1", "GIT_TERMINAL_PROMPT": "0"}
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def looks_secret(name: str) -> bool:
    return bool(SECRET.search(name))


def _allowed(name: str, extra: frozenset[str]) -> bool:
    if looks_secret(name) or name in DENIED:
        return False
    return name in ALLOWED or name in extra or name.startswith(ALLOWED_PREFIXES)


def scrubbed_env(
    source: Mapping[str, str] | None = None,
    extra_allowed: Iterable[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Allow-listed variables of `source` (default: os.environ), then `overrides`.

    A name that looks like a secret (TOKEN, KEY, SECRET, PASS..., e.g. GITHUB_TOKEN, FOO_API_KEY) is
    dropped even when allow-listed, given in `extra_allowed` or passed as an override.
    """
    extra = frozenset(extra_allowed)
    env = {k: v for k, v in (os.environ if source is None else source).items() if _allowed(k, extra)}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(FIXED)
    env.update({k: v for k, v in (overrides or {}).items() if not looks_secret(k)})
    return env
