"""Set resource limits, then become the given program: the first step of a long-lived sandboxed
process (an MCP stdio server) whose spawner (the MCP SDK) offers no hook between fork and exec.

    python -I -S launch.py '[[RLIMIT, SOFT, HARD], ...]' -- PROGRAM ARGS...

Standard library only, run by path with `-I -S` (no site, no environment): it must not import the
agent's packages. `exec` keeps the process id, so bwrap's `--die-with-parent` still watches the
agent itself.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: launch.py LIMITS_JSON -- PROGRAM ARGS...")
    for kind, soft, hard in json.loads(argv[0]):
        resource.setrlimit(int(kind), (int(soft), int(hard)))
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
