"""Project instructions: AGENTS.md files (CLAUDE.md where a repository has none), and what they say.

Discovery (the rule of agents.md and Codex):
- the user file `AGENTS.md` in the config dir (`~/.config/local-agent/AGENTS.md`) and the repository's
  root file always apply; the user file comes first, so the project's own rules override it;
- a nested file (`pkg/api/AGENTS.md`) applies to work under its directory; for a file there the chain
  is root -> ... -> nearest, and the nearest one wins where they conflict;
- at most one file per directory; empty files are skipped; files git ignores are not read;
- when the repository has no `AGENTS.md` anywhere, its `CLAUDE.md` files are read the same way.

The test command (`find_test_command`) comes from the root file only; nested files' commands reach the
model through their text. Recognised forms, first match in document order:
1. a line naming the test command with an inline code span:
   ``Test command: `pytest -q` ``, ``Tests: `make test` ``, ``Run the tests with `tox -e py` ``,
   ``To run the tests, use `npm test` `` (the first code span after the words);
2. a fenced code block in a section whose heading mentions tests ("## Testing", "## Running tests"):
   the first line of the first such block that is not blank or a `#` comment, without a `$ ` prompt.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel

from agent.repo.files import repo_files

AGENTS = "AGENTS.md"
FALLBACK = "CLAUDE.md"
MAX_FILE_BYTES = 256_000

Kind = Literal["user", "root", "nested"]


class InstructionFile(BaseModel):
    path: str  # relative to the repository root; the full path for the user file
    scope: str  # the directory it applies to, relative to the root ("" = everywhere)
    kind: Kind
    text: str

    def applies_to(self, rel_path: str) -> bool:
        if self.kind != "nested":
            return True
        return rel_path == self.scope or rel_path.startswith(self.scope + "/")


class ProjectInstructions(BaseModel):
    files: list[InstructionFile] = []
    name: str = AGENTS  # which file name was found: AGENTS.md, or CLAUDE.md as the fallback

    @property
    def always(self) -> list[InstructionFile]:
        """The user file, then the root file: the order they go into the prompt."""
        return [f for f in self.files if f.kind != "nested"]

    @property
    def nested(self) -> list[InstructionFile]:
        return [f for f in self.files if f.kind == "nested"]

    def chain(self, rel_path: str) -> list[InstructionFile]:
        """Nested files that apply to `rel_path`, outermost first (the last one is the nearest)."""
        normal = PurePosixPath(rel_path.strip("/")).as_posix()
        applicable = [f for f in self.nested if f.applies_to(normal)]
        return sorted(applicable, key=lambda f: f.scope.count("/"))

    def nearest(self, rel_path: str) -> InstructionFile | None:
        """The file that wins for `rel_path`: the nearest nested one, else the root file."""
        chain = self.chain(rel_path)
        if chain:
            return chain[-1]
        roots = [f for f in self.files if f.kind == "root"]
        return roots[0] if roots else None

    @property
    def test_command(self) -> str | None:
        roots = [f for f in self.files if f.kind == "root"]
        return find_test_command(roots[0].text) if roots else None


def _read(path: Path) -> str:
    if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
        return ""
    return path.read_text(encoding="utf-8", errors="replace").strip()


def _found(root: Path, name: str) -> list[str]:
    return sorted((rel for rel in repo_files(root) if PurePosixPath(rel).name == name), key=_depth)


def _depth(rel: str) -> tuple[int, str]:
    return rel.count("/"), rel


def discover(root: Path, user_dir: Path | None = None) -> ProjectInstructions:
    """Every instruction file for a repository checked out at `root` (see the module docstring)."""
    name = AGENTS if _found(root, AGENTS) else FALLBACK
    files: list[InstructionFile] = []
    if user_dir is not None:
        text = _read(user_dir / AGENTS)
        if text:
            files.append(InstructionFile(path=str(user_dir / AGENTS), scope="", kind="user", text=text))
    for rel in _found(root, name):
        text = _read(root / rel)
        if not text:
            continue
        scope = PurePosixPath(rel).parent.as_posix()
        kind: Kind = "root" if scope == "." else "nested"
        files.append(InstructionFile(path=rel, scope="" if scope == "." else scope, kind=kind, text=text))
    return ProjectInstructions(files=files, name=name)


# ---- the test command ----------------------------------------------------------------------------

_CODE = r"`([^`\n]+)`"
_LINE_FORMS = [
    # "Test command: `pytest -q`", "Tests: `make test`", "- **Run tests:** `tox`"
    re.compile(
        r"^[\s>*_-]*(?:\d+[.)]\s*)?[*_]*(?:test(?:s|ing)?(?:\s+command)?|run(?:ning)?\s+(?:the\s+)?tests?)"
        r"[*_]*\s*:[*_\s]*" + _CODE,
        re.IGNORECASE,
    ),
    # "Run the tests with `pytest -q`", "To run the tests, use `npm test`", "Tests run with `make check`"
    re.compile(
        r"\b(?:run(?:ning)?\s+(?:the\s+|all\s+(?:the\s+)?)?(?:unit\s+)?tests?|tests?\s+(?:are\s+)?run)"
        r"[^`\n]{0,30}?\b(?:with|using|via|by\s+running|use|run)\b\s*:?\s*" + _CODE,
        re.IGNORECASE,
    ),
]
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_TEST_WORD = re.compile(r"\btest(?:s|ing)?\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")


def _from_line(line: str) -> str | None:
    for form in _LINE_FORMS:
        match = form.search(line)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


def _first_command(block: list[str]) -> str | None:
    for line in block:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        return text[2:].strip() if text.startswith("$ ") else text
    return None


def find_test_command(markdown: str) -> str | None:
    """The test command an AGENTS.md names, in one of the forms of the module docstring, or None."""
    lines = markdown.splitlines()
    under_test_heading = False
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING.match(line)
        opening = _FENCE.match(line)
        if heading:
            under_test_heading = bool(_TEST_WORD.search(heading.group(1)))
        elif opening:
            fence = opening.group(1)
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence)), len(lines)
            )
            if under_test_heading:
                command = _first_command(lines[i + 1 : end])
                if command:
                    return command
            i = end
        else:
            command = _from_line(line)
            if command:
                return command
        i += 1
    return None
