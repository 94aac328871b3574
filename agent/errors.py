"""Errors a user causes and fixes: each one's message names the fix, and every command reports it
the same way (`agent: <message>`, exit code 2; `agent fix` also ends its report and `--json` stream
with it). `agent/cli/errors.py` catches `UserError` once; a run that meets one mid-way reports it
as a `usage_error` (agent/run/fix.py).

    UserError
    ├── ConfigError            agent/config.py          a config file or flag holds a wrong key or value
    ├── UsageError             agent/cli/headless.py    the command line asks for something impossible
    │   └── ArgumentsError     agent/cli/main.py        the command line does not parse
    ├── WorkspaceError         agent/run/workspace.py   not a git repository, a branch that cannot apply...
    │   └── RepositoryNotWritable  agent/run/fix.py     the git directory (or --apply's tree) is read-only
    ├── ModelNotFound          agent/models/resolution.py   no model installed or found by that name
    ├── ContextTooSmall        agent/loop/errors.py     the model's context cannot hold the first prompt
    ├── PublishError           agent/github/publish.py  no token, unknown repository, nothing to push
    ├── McpConfigError         agent/mcp/config.py      a wrong MCP server name or entry
    └── SandboxUnavailable     sandbox/bubblewrap.py    bubblewrap cannot run here (registered: the
                                                        sandbox package imports nothing of ours)

Each keeps its name where it is defined; it subclasses `UserError` (or is registered as one) so
callers test `isinstance(exc, UserError)`. Not user errors: `EngineError` (exit 3: the model or server
failed) and `GitHubError` (exit 4: the API failed), which `agent/cli/errors.py` reports apart.
"""

from __future__ import annotations

from abc import ABCMeta

from sandbox.bubblewrap import SandboxUnavailable


class UserError(Exception, metaclass=ABCMeta):
    """An error the user can fix; its message says how. `except UserError` does not catch the
    registered ones (SandboxUnavailable): test with `isinstance`."""


UserError.register(SandboxUnavailable)


class OutputClosed(BrokenPipeError):
    """Whoever read the command's output went away (`agent fix --json | head -1`): the run stops, as
    a program killed by SIGPIPE would, cleaning up as after Ctrl-C, and the command exits 141 quietly.
    Raised where events are written, so a broken pipe to a subprocess stays an ordinary error."""
