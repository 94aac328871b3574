"""Grounded arguments: the call grammar limited to what exists in the repository.

A tool names, for some of its arguments, what their values must be (`grounds` on the tool): an
existing file, an existing directory, or whole lines of the file named by its `path` argument.
`grounded_schema` turns that into a narrower JSON schema for the grammar only (`ToolSpec.grammar`):
the model still sees the plain schema (the prompt and its KV cache stay the same), but under
constrained decoding it cannot name a file that is not there, copy a parameter's description
as a path, or send old text that is not in the file. A small model makes those mistakes on most
of its edits; the tool would only refuse them afterwards.

The texts are bounded (`GroundingLimits`): past them a file's path is still grounded, its text
is not, and past `max_paths` files paths are free strings again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.grammar import LINES_OF
from agent.repo.files import repo_files


class Ground(StrEnum):
    FILE = "file"  # a file of the repository
    EDITABLE = "editable"  # a file of the repository the tools may change (ToolContext.protected)
    DIRECTORY = "directory"  # a directory of the repository ("." included)
    LINES = "lines"  # consecutive whole lines of the file named by the "path" argument


class GroundingLimits(BaseModel):
    max_paths: int = 4000  # more files than this: paths stay free strings
    max_file_chars: int = 64_000  # a larger file's lines are not grounded
    max_total_chars: int = 400_000  # texts held by one tool's grammar


class RepoView:
    """The repository's files and their texts, read once per view (one model turn)."""

    def __init__(
        self,
        root: Path,
        limits: GroundingLimits | None = None,
        protected: Callable[[str], bool] = lambda rel: False,
        barred: Mapping[str, set[int]] | None = None,
    ) -> None:
        """`barred`: per file, 1-based lines no grounded old text may hold (`lines_allowed`)."""
        self.root = root
        self.limits = limits or GroundingLimits()
        self.barred = dict(barred or {})
        self.files = repo_files(root)
        self.editable = [rel for rel in self.files if not protected(rel)]
        self._texts: dict[str, str | None] = {}

    def directories(self) -> list[str]:
        found = {"."}
        for rel in self.files:
            parts = rel.split("/")[:-1]
            found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(found)

    def text(self, rel: str) -> str | None:
        """The file's text with LF newlines, or None (binary, unreadable or over the limit)."""
        if rel not in self._texts:
            self._texts[rel] = self._read(rel)
        return self._texts[rel]

    def _read(self, rel: str) -> str | None:
        path = self.root / rel
        try:
            if path.stat().st_size > self.limits.max_file_chars * 4:
                return None
            raw = path.read_bytes()
        except OSError:
            return None
        if b"\0" in raw:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if len(text) > self.limits.max_file_chars:
            return None
        return text.replace("\r\n", "\n")


def grounded_schema(
    schema: dict[str, Any],
    grounds: Mapping[str, Ground],
    repo: RepoView,
    first: Sequence[str] = (),
) -> dict[str, Any] | None:
    """`schema` narrowed by `grounds`, or None when nothing can be narrowed.

    `first`: files whose text is grounded before any other when not all fit (the ones edited).
    """
    properties = schema.get("properties", {})
    grounds = {key: ground for key, ground in grounds.items() if key in properties}
    if not grounds or not repo.files or len(repo.files) > repo.limits.max_paths:
        return None  # an empty repository: nothing to name yet
    choices = {Ground.FILE: repo.files, Ground.EDITABLE: repo.editable}
    narrowed = copy.deepcopy(schema)
    props = narrowed["properties"]
    for key, ground in grounds.items():
        if ground in choices:
            props[key] = _one_of_paths(props[key], choices[ground])
        elif ground is Ground.DIRECTORY:
            props[key] = _one_of_paths(props[key], repo.directories())
    lines_key = next((key for key, ground in grounds.items() if ground is Ground.LINES), None)
    files = choices.get(grounds.get("path", Ground.LINES))
    if lines_key is None or not files:
        return narrowed
    return _per_file(narrowed, lines_key, files, repo, first)


def _one_of_paths(prop: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The property limited to `paths` (kept optional/nullable as it was)."""
    options = prop.get("anyOf")
    if options:  # e.g. `str | None`: the string alternative is limited, null stays
        return {
            **prop,
            "anyOf": [{"enum": paths} if option.get("type") == "string" else option for option in options],
        }
    narrowed = {k: v for k, v in prop.items() if k not in ("type", "description")}
    return {**narrowed, "enum": paths}


def _per_file(
    schema: dict[str, Any], lines_key: str, files: list[str], repo: RepoView, first: Sequence[str]
) -> dict[str, Any]:
    """One alternative per file (of `files`) whose text fits: `path` that file, `lines_key` its
    lines; the other files share one alternative with `lines_key` free."""
    known = set(files)
    order = list(dict.fromkeys([*(rel for rel in first if rel in known), *files]))
    left = repo.limits.max_total_chars
    texts: dict[str, str] = {}
    for rel in order:
        text = repo.text(rel)
        if text is not None and len(text) <= left:
            texts[rel] = text
            left -= len(text)
    props = schema["properties"]
    alternatives = [
        {
            **schema,
            "properties": {
                **props,
                "path": {"const": rel},
                lines_key: {"type": "string", LINES_OF: lines_allowed(texts[rel], repo.barred.get(rel))},
            },
        }
        for rel in files
        if rel in texts
    ]
    rest = [rel for rel in files if rel not in texts]
    if rest:
        alternatives.append({**schema, "properties": {**props, "path": {"enum": rest}}})
    return {"type": "object", "anyOf": alternatives}


def lines_allowed(text: str, barred: set[int] | None) -> str | list[str]:
    """`text`, or with `barred` lines (1-based) the blocks of lines between them. The text stays
    whole when barring would leave no line with code on it: an edit must still be possible."""
    if not barred:
        return text
    blocks: list[str] = []
    block: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if number in barred:
            blocks.append("".join(block))
            block = []
        else:
            block.append(line)
    blocks.append("".join(block))
    blocks = [b for b in blocks if b.strip()]
    return blocks or text
