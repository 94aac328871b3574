"""Post-edit syntax check: an edit that breaks a file that parsed before is not applied.

Parsing is tree-sitter's (the grammars bundled in tree-sitter-language-pack), chosen by file
extension. For Python the interpreter's own parser decides when it can read the file before the
edit: it catches what tree-sitter's lenient grammar lets through (a missing indented block) and
never rejects valid code tree-sitter's grammar does not know yet. A file that did not parse before
the edit, or whose language we do not know, is not checked.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Any

from agent.repo.languages import grammar_for
from tools.editing.blocks import number

CONTEXT_LINES = 3


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 1-based
    message: str


def language_for(path: str) -> str | None:
    return grammar_for(path)


def _first_error_node(node: Any) -> Any | None:
    if node.is_error or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_error_node(child)
        if found is not None:
            return found
    return node


def tree_sitter_problem(text: str, language: str, parsers: dict[str, Any]) -> SyntaxProblem | None:
    if language not in parsers:
        from tree_sitter_language_pack import get_parser

        parsers[language] = get_parser(language)  # type: ignore[arg-type]
    root = parsers[language].parse(text.encode("utf-8")).root_node
    node = _first_error_node(root)
    if node is None:
        return None
    line = node.start_point[0] + 1
    if node.is_missing:
        return SyntaxProblem(line, f"missing {node.type!r}")
    snippet = node.text.decode("utf-8", "replace").strip().splitlines()
    return SyntaxProblem(line, f"cannot parse {snippet[0][:40]!r}" if snippet else "syntax error")


_STRING = re.compile(r"""[rbfuRBFU]{0,2}("[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')""")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def unclosed_brackets(line: str) -> str:
    """The brackets `line` opens and does not close, in closing order ("" when balanced); string
    literals and a trailing comment are left out. The models often drop a closing parenthesis,
    and Python says only 'invalid syntax' about `raise E(f"..." from None`."""
    code = _STRING.sub('""', line).split("#", 1)[0]
    stack: list[str] = []
    for char in code:
        if char in _PAIRS:
            stack.append(_PAIRS[char])
        elif char in _PAIRS.values():
            if not stack or stack[-1] != char:
                return ""  # closes what another line opened: not a line-local slip
            stack.pop()
    return "".join(reversed(stack))


def parse_python(text: str, filename: str = "<unknown>") -> ast.Module | None:
    """The module's syntax tree; None when it does not parse (or holds a null byte). The
    SyntaxWarning an odd escape in the model's text raises is not ours to show."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=filename)
    except (SyntaxError, ValueError):
        return None


def python_problem(text: str) -> SyntaxProblem | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes is not our business
            ast.parse(text)
    except SyntaxError as exc:
        line = exc.lineno or 1
        message = exc.msg
        lines = text.splitlines()
        missing = unclosed_brackets(lines[line - 1]) if 0 < line <= len(lines) else ""
        if missing and "never closed" not in message:
            message += f" (line {line} opens brackets it does not close: {missing!r} is missing)"
        return SyntaxProblem(line, message)
    except (ValueError, RecursionError, MemoryError):  # null bytes, absurd nesting: not a verdict
        return None
    return None


def edit_breaks_syntax(
    path: str, before: str | None, after: str, parsers: dict[str, Any]
) -> SyntaxProblem | None:
    """The syntax error `after` has when `before` parsed (None: fine, unknown or not checked)."""
    language = language_for(path)
    if language is None or before is None:
        return None
    if language == "python" and python_problem(before) is None:
        return python_problem(after)
    if tree_sitter_problem(before, language, parsers) is not None:
        return None
    return tree_sitter_problem(after, language, parsers)


def describe_problem(path: str, after: str, problem: SyntaxProblem) -> str:
    """The error with the lines around it numbered, the offending line marked with `>`."""
    lines = after.replace("\r\n", "\n").split("\n")
    lo = max(1, problem.line - CONTEXT_LINES)
    hi = min(len(lines), problem.line + CONTEXT_LINES)
    shown = number(lines[lo - 1 : hi], lo).splitlines()
    marked = [(">" if n == problem.line else " ") + line for n, line in enumerate(shown, lo)]
    return (
        f"the edit would leave {path} with a syntax error at line {problem.line}: {problem.message}. "
        "It was not applied; the file is unchanged. Fix the new text and try again.\n" + "\n".join(marked)
    )
