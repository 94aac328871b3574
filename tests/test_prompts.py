"""Every prompt the code renders by name exists as a template in prompts/ (a missing one is a crash
in the middle of a run: `repair_gamed` was, the first time a round's closest draft was refused),
and renders with the variables its callers give."""

from __future__ import annotations

import ast
from pathlib import Path

import prompts
from tests.paths import ROOT


def rendered_names() -> dict[str, list[str]]:
    """Template name -> the source files that render it with a literal name."""
    found: dict[str, list[str]] = {}
    for top in ("agent", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "render"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "prompts"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.setdefault(str(node.args[0].value), []).append(str(path.relative_to(ROOT)))
    return found


def test_every_rendered_prompt_has_its_template() -> None:
    names = rendered_names()
    assert len(names) >= 15 and "repair_gamed" in names
    templates = Path(prompts.__file__).parent
    missing = {name: files for name, files in names.items() if not (templates / f"{name}.md").is_file()}
    assert not missing, f"prompts rendered but not in prompts/: {missing}"


def test_the_refusal_of_a_special_cased_draft_renders() -> None:
    why = "src/a.py: line 3 tests for 1024; a fix must work for every input, not only the tests' values"
    text = prompts.render("repair_gamed", why=why, language="python")
    assert text.startswith(f"That change was refused: {why}.") and "```python block" in text
