"""Repository context for a task: a ranked map, whole files and whole-definition excerpts.

`build_pack(root, issue, budget, count_tokens)` is the entry point; the modules, in the order
data flows: walk -> records (tags, terms) -> cache -> index (lexical, graph) -> issue -> rank
-> select -> render -> pack (-> manifest).
"""

from agent.context.budget import parse_tokens, resolve_budget
from agent.context.manifest import ContextPack, FileEntry, PackManifest
from agent.context.pack import PackOptions, build_pack, pack_context

__all__ = [
    "ContextPack",
    "FileEntry",
    "PackManifest",
    "PackOptions",
    "build_pack",
    "pack_context",
    "parse_tokens",
    "resolve_budget",
]
