"""Ctrl-C while the `agent` command is still loading its modules: exit 130 quietly.

Imported first by agent/cli/main.py, so it is in place before the slow imports (pydantic models,
tree-sitter, llama.cpp bindings) run. At that point nothing has been touched, so the repository is
exactly as it was. `main()` and `agent fix` catch Ctrl-C themselves once they run and say what
they cleaned up; this hook replaces Python's traceback and its exit by SIGINT (-2) for a Ctrl-C
that reaches the top before them.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

from agent.run.exitcodes import EXIT_INTERRUPTED

INTERRUPTED = "interrupted: your repository is exactly as it was"
_previous = sys.excepthook


def _hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if not issubclass(kind, KeyboardInterrupt):
        _previous(kind, value, tb)
        return
    try:
        sys.stdout.flush()
        sys.stderr.write(f"\n{INTERRUPTED}\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)  # not SIGINT again: the documented exit code


sys.excepthook = _hook
