"""write_code: put fixed definitions into the file that holds them, by name.

The model writes the functions, methods, classes or constants it changes as they should read, and
the tool finds where each one is (the repository index, or the path it gives) and replaces it
there (tools/editing/definitions.py): no old text to quote, no line numbers, no diff syntax. A whole file
written out works too. Python is merged by its own parser, the languages the repository index
knows (JavaScript/TypeScript, Go, Rust, Java, C/C++...) by their tree-sitter definitions.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap

from pydantic import Field

from agent.context.index import load_index
from agent.context.lookup import find_definitions
from agent.repo.dirs import cache_dir_for
from tools.base import NoChange, ToolArgs, ToolContext, ToolError, ToolKind, ToolResult
from tools.editing.changes import FileChange, commit, describe, open_target
from tools.editing.definitions import Merged, merge_code, name_of
from tools.editing.syntax import parse_python, python_problem
from tools.editing.textfile import normalise_newlines

MAX_CANDIDATE_FILES = 6


class Args(ToolArgs):
    code: str = Field(
        min_length=1,
        description="the changed functions, methods, classes or constants, each whole, as they should read",
    )
    path: str | None = Field(None, description="file to change (found from the names in code if left out)")


# a definition's name in the C-family, Go, Rust, JavaScript...: what the locator looks up (the
# merge itself goes by the tree-sitter definitions, tools/editing/definitions.py)
_DEFINED = re.compile(
    r"^\s*(?:export\s+|pub\s+|async\s+|static\s+|public\s+|private\s+|protected\s+)*"
    r"(?:def|function|func(?:\s*\([^)]*\))?|fn|class|struct|interface|trait|impl|enum|type)\s+(\w+)"
    r"|^\s*(?:async\s+|static\s+|get\s+|set\s+)*(\w+)\s*\([^)]*\)\s*(?::\s*[\w<>\[\], |]+)?\s*\{",
    re.M,
)
_NOT_NAMES = frozenset({"if", "for", "while", "switch", "catch", "return", "function", "else"})


def defined_names(code: str) -> list[str]:
    """The names a block defines: for Python its top-level ones and its classes' members, for
    other languages what follows a definition keyword (or opens a method body)."""
    tree = parse_python(textwrap.dedent(code))
    if tree is None:
        found = [a or b for a, b in _DEFINED.findall(code)]
        return list(dict.fromkeys(n for n in found if n not in _NOT_NAMES))
    names: list[str] = []
    for node in tree.body:
        name = name_of(node)
        if name is None:
            continue
        names.append(name)
        if isinstance(node, ast.ClassDef):
            names.extend(inner for member in node.body if (inner := name_of(member)) is not None)
    return names


def candidate_files(ctx: ToolContext, names: list[str]) -> list[str]:
    """Files that define any of `names`, the ones defining the most first; test files last."""
    index = load_index(ctx.root, cache_dir_for(ctx.root))
    hits: dict[str, int] = {}
    for name in names:
        for definition in find_definitions(index, name):
            if definition.symbol.name == name:
                hits[definition.path] = hits.get(definition.path, 0) + 1
    ranked = sorted(hits, key=lambda path: (ctx.protected(path), -hits[path], path))
    return ranked[:MAX_CANDIDATE_FILES]


def changed_regions(before: str, after: str) -> list[tuple[int, int]]:
    """0-based [start, end) line ranges of `after` that differ from `before`."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    return [(j1, max(j2, j1 + 1)) for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def merge_into(ctx: ToolContext, path: str, code: str) -> tuple[FileChange, Merged] | None:
    """The change merging `code` into `path` would make, or None when nothing in it belongs there."""
    target = open_target(ctx, path)
    text = normalise_newlines(target.text)
    merged = merge_code(target.rel, text, normalise_newlines(code))
    if merged is None:
        return None
    after = merged.text
    if "\r\n" in target.text and "\r\n" not in after:  # the file's own line endings
        after = after.replace("\n", "\r\n")
    change = FileChange(target.rel, target.path, target.text, after, changed_regions(text, merged.text))
    return change, merged


class WriteCode:
    name = "write_code"
    kind: ToolKind = "edit"
    description = (
        "Replace whole functions, methods, classes or constants with your fixed version; "
        "each goes where its name is defined."
    )
    args_model = Args

    def run(self, args: Args, ctx: ToolContext) -> ToolResult:
        paths = [args.path] if args.path else self._locate(args.code, ctx)
        tried: list[str] = []
        for path in paths:
            found = merge_into(ctx, path, args.code)
            if found is None:
                tried.append(path)
                continue
            change, merged = found
            if change.before == change.after:
                raise NoChange(
                    f"the code is what {change.rel} has already ({', '.join(merged.names)}): nothing "
                    "changed. Write the definitions as they should read after the fix."
                )
            commit(ctx, self.name, [change])
            said = _said(merged)
            output = f"{said}\n{describe(change)}"
            return ToolResult(
                output=output,
                data={
                    "path": change.rel,
                    "line": change.regions[0][0] + 1 if change.regions else 1,
                    "replaced": merged.replaced,
                    "added": merged.added,
                },
            )
        problem = python_problem(textwrap.dedent(args.code))
        if problem is not None and all(path.endswith((".py", ".pyi")) for path in tried):
            raise ToolError(
                f"the code does not parse as Python (its line {problem.line}: {problem.message}): "
                "write whole definitions as they should read"
            )
        where = ", ".join(tried) or "the repository"
        raise ToolError(
            f"nothing in the code could be placed in {where}: it must hold whole definitions "
            "(def/class/NAME = ...) that the file has, written out in full and parsing as Python"
        )

    @staticmethod
    def _locate(code: str, ctx: ToolContext) -> list[str]:
        names = defined_names(code)
        if not names:
            raise ToolError(
                "the code defines nothing (or does not parse): write whole functions, classes or "
                "`NAME = ...` constants, or give path to replace a whole file"
            )
        paths = candidate_files(ctx, names)
        if not paths:
            raise ToolError(
                f"none of {', '.join(names[:6])} is defined in the repository: "
                "give path to add them to a file"
            )
        return paths


def _said(merged: Merged) -> str:
    parts = []
    if merged.replaced:
        parts.append("replaced " + ", ".join(merged.replaced))
    if merged.added:
        parts.append("added " + ", ".join(merged.added))
    if merged.skipped:
        parts.append("left out " + ", ".join(merged.skipped))
    return "; ".join(parts)


TOOL = WriteCode()
