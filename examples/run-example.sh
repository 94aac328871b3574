#!/usr/bin/env bash
# Copy the buggy example project to a temporary git repository, give it a test environment (its own
# .venv with pytest, as a developer would have), and let the agent fix it there.
# Usage: examples/run-example.sh [extra `agent fix` flags, e.g. --model PATH.gguf]
# PYTHON=/path/to/python picks the interpreter the example's .venv is made from (default: python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)/dateparse"
cp -r "$here/dateparse" "$work"
cd "$work"
git init -q -b main
git add -A
git -c user.name=example -c user.email=example@localhost commit -qm "dateparse example"
echo "example repository: $work" >&2
# The agent runs the tests with the repository's .venv (docs/project-environment.md): untracked, like
# a developer's, and shown read-only inside the sandbox.
if "${PYTHON:-python3}" -m venv .venv \
    && .venv/bin/python -m pip install --quiet --disable-pip-version-check pytest; then
    echo "test environment: $work/.venv (pytest $(.venv/bin/python -m pytest --version 2>&1 | awk '{print $2}'))" >&2
else
    echo "could not install pytest into $work/.venv (offline?): the agent says how to make its tests run" >&2
fi
agent fix "Parsing '2024-02-30' should raise ValueError, but parse_date returns March 1st." "$@"
