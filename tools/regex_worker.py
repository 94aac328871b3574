"""The search tool's worker: runs a model's regular expression over the repository's files in a
process of its own, which the tool kills when it takes too long.

A regex like `(a+)+$` backtracks for ever on a long line, and Python's `re` cannot be interrupted:
run in the agent's process it hung the whole run. This file is executed as a script
(`python -I -S regex_worker.py`): standard library only, nothing of the agent imported.

stdin: one JSON object {"pattern", "files": [[shown path, absolute path], ...], "max_results",
"max_file_bytes", "max_line_chars", "sniff_bytes"}. stdout: one JSON string per matching line shown
("path:line: text"), then {"total": N}, the number of matching lines.
"""

from __future__ import annotations

import json
import re
import resource
import sys
from typing import Any

MEMORY_BYTES = 2 << 30  # a pattern that makes `re` allocate without end stops here


def _text(path: str, max_bytes: int, sniff_bytes: int) -> str | None:
    """The file's text, or None for a missing, big or binary (NUL in its first bytes) file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\0" in data[:sniff_bytes]:
        return None
    return data.decode("utf-8", errors="replace")


def search(request: dict[str, Any], out: Any) -> None:
    regex = re.compile(request["pattern"])
    shown = total = 0
    limit, width = request["max_results"], request["max_line_chars"]
    for rel, path in request["files"]:
        text = _text(path, request["max_file_bytes"], request["sniff_bytes"])
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if regex.search(line):
                total += 1
                if shown < limit:
                    out.write(json.dumps(f"{rel}:{number}: {line.strip()[:width]}") + "\n")
                    shown += 1
    out.write(json.dumps({"total": total}) + "\n")


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    search(json.loads(sys.stdin.read()), sys.stdout)


if __name__ == "__main__":
    main()
