#!/usr/bin/env bash
# Copy the buggy example project to a temporary git repository and let the agent fix it there.
# Usage: examples/run-example.sh [extra `agent fix` flags, e.g. --model PATH.gguf]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)/dateparse"
cp -r "$here/dateparse" "$work"
cd "$work"
git init -q -b main
git add -A
git -c user.name=example -c user.email=example@localhost commit -qm "dateparse example"
echo "example repository: $work" >&2
agent fix "Parsing '2024-02-30' should raise ValueError, but parse_date returns March 1st." "$@"
