"""Which edit tools a model gets, by model family.

Every model gets create_file (new files, and whole-file rewrites of small files). On top:

- "qwen2.5" / "hermes" (Qwen2.5-Coder 0.5B-32B, Hermes-format tool callers): edit_file only.
  Small models are most reliable with search/replace: they copy lines they have just read, while
  diffs need correct hunk syntax and line numbers need arithmetic, both weak spots of 0.5-7B
  models. One edit tool also keeps the prompt short and the choice trivial.
- "qwen3-coder": edit_file and replace_lines. Its own agent scaffolds (Qwen Code and the
  OpenHands-style editor it was tuned on) use old/new string replacement; it reads line numbers
  reliably, and the hash-checked line replace saves re-quoting long blocks.
- "glm" (GLM-4.5/4.6): edit_file and replace_lines, for the same reason: it is tuned for
  Claude-Code-style agents whose Edit tool is exact string replacement.
- "llama3": edit_file and replace_lines. Llama 3 often paraphrases when it quotes long blocks;
  line ranges tied to the hash it read give it a way around quoting.
- "mistral" (Devstral, Codestral): edit_file. Devstral was trained on OpenHands trajectories
  whose editor is str_replace.
- "gpt-oss" / "codex": apply_patch. These models were trained on the Codex harness, whose only
  edit tool is the `*** Begin Patch` envelope; they write it fluently and badly imitate others.
- "generic" (anything else): edit_file and apply_patch: search/replace is the safest default and
  every capable model knows unified diffs.

These are judgments from how each family was trained and from published harness results, not
measurements of ours; tests/bench/bench_edits.py measures how forgiving each format is.
"""

from __future__ import annotations

from tools import apply_patch, create_file, edit_file, replace_lines
from tools.base import Tool

FAMILY_TOOLS: dict[str, tuple[Tool, ...]] = {
    "qwen2.5": (edit_file.TOOL,),
    "hermes": (edit_file.TOOL,),
    "qwen3-coder": (edit_file.TOOL, replace_lines.TOOL),
    "glm": (edit_file.TOOL, replace_lines.TOOL),
    "llama3": (edit_file.TOOL, replace_lines.TOOL),
    "mistral": (edit_file.TOOL,),
    "gpt-oss": (apply_patch.TOOL,),
    "codex": (apply_patch.TOOL,),
    "generic": (edit_file.TOOL, apply_patch.TOOL),
}
# The engine's tool-call format names (agent.formats.FORMAT_NAMES) name the same families.
ALIASES = {
    "qwen3_coder": "qwen3-coder",
    "glm45": "glm",
    "glm47": "glm",
    "mistral_v11": "mistral",
    "json": "generic",
    "qwen2.5-coder": "qwen2.5",
}
EDIT_TOOL_NAMES = frozenset({"edit_file", "create_file", "replace_lines", "apply_patch"})


def family_of(name: str) -> str:
    """A family name, or an engine format name, as one of FAMILY_TOOLS ("generic" if unknown)."""
    name = name.strip().lower()
    name = ALIASES.get(name, name)
    return name if name in FAMILY_TOOLS else "generic"


def edit_tools_for(family: str) -> list[Tool]:
    """The edit tools for a model family or engine format name (unknown: the "generic" set)."""
    return [*FAMILY_TOOLS[family_of(family)], create_file.TOOL]


def tools_for(family: str, base: list[Tool]) -> list[Tool]:
    """`base` (e.g. default_tools()) with its edit tools replaced by the family's, in their place."""
    edits = edit_tools_for(family)
    at = next((i for i, tool in enumerate(base) if tool.name in EDIT_TOOL_NAMES), len(base))
    rest = [tool for tool in base if tool.name not in EDIT_TOOL_NAMES]
    return [*rest[:at], *edits, *rest[at:]]
