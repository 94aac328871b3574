"""File extension -> tree-sitter-language-pack grammar: one table for the post-edit syntax check
(tools/syntax.py) and the repository context's tags (agent/context/languages.py)."""

from __future__ import annotations

from pathlib import PurePosixPath

GRAMMARS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".kt": "kotlin",
    ".swift": "swift",
    ".lua": "lua",
    ".scala": "scala",
    ".sh": "bash",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
}


def grammar_for(path: str) -> str | None:
    return GRAMMARS.get(PurePosixPath(path).suffix.lower())
