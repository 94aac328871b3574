"""The exit codes of every `agent` command (documented in the README)."""

EXIT_OK = 0  # resolved and verified by the tests (and the pull request opened, when asked)
EXIT_NOT_RESOLVED = 1  # the run ended without a verified change
EXIT_USAGE = 2  # a usage or configuration error the user must fix
EXIT_ENGINE = 3  # the engine failed (model not loadable, server unreachable)
EXIT_PUBLISH = 4  # pushing the branch or the GitHub API failed (the branch and patch are kept)
EXIT_INTERRUPTED = 130  # Ctrl-C: the repository is exactly as it was
