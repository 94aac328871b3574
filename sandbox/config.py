"""The sandbox's settings: the `[sandbox]` table of a config file, and the `--sandbox`/`--policy` flags.

```toml
[sandbox]
backend = "bubblewrap"       # or "none": no isolation (a loud warning; limits and env scrub still apply)
policy = "workspace"         # "read-only" | "workspace" | "network"
approval = "never"           # "always": ask before every command (when a person is there to ask)
read_paths = ["~/.rustup"]   # more host paths commands may read (the home directory is hidden)
setup_command = "..."        # prepares the test environment once per run, with network allowed
setup_timeout = 900

[sandbox.limits]
cpu_seconds = 900
address_space_bytes = 17179869184
```

In a repository's own `.agent.toml`, what could weaken isolation (and `setup_command`) waits for
`agent trust`: the list is `agent.config_trust.GATES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sandbox.bubblewrap import DEFAULT_TMPFS_BYTES, Policy
from sandbox.subprocess_sandbox import Limits

Backend = Literal["bubblewrap", "none"]
Approval = Literal["never", "always"]


class SandboxConfig(BaseModel):
    """The `[sandbox]` table: how commands the model chooses are isolated."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    backend: Backend = "bubblewrap"
    """"bubblewrap", or "none": no isolation (a loud warning; limits and the env scrub still apply)."""
    policy: Policy = "workspace"
    """What commands may do: "read-only", "workspace" (write the worktree), "network" (and the net)."""
    approval: Approval = "never"
    """"always": ask before every command (when a person is there to ask); "never": do not ask."""
    read_paths: list[str] = []
    """More host paths commands may read (the home directory is hidden); `--sandbox-read` adds one."""
    setup_command: str | None = None
    """Prepares the test environment once per run, with the network on (`agent sandbox --setup` tries it)."""
    setup_timeout: float = 900.0
    """Seconds the setup command may run."""
    tmpfs_bytes: int = DEFAULT_TMPFS_BYTES
    """Size in bytes of each private tmpfs (/tmp, the hidden home)."""
    output_limit: int = 20_000
    """Characters of a command's output kept (the middle is elided)."""
    limits: Limits = Limits()
    """The `[sandbox.limits]` table: per-command resource limits."""

    def read_path_list(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.read_paths]
