"""Edit tools per model family, and the prompt budget: every family's tools plus the system prompt
fit in 2,500 tokens of the real Qwen2.5-Coder tokenizer."""

from __future__ import annotations

import json

import jsonschema
import pytest

import prompts
from agent.models import pull
from tools.registry import FAMILY_TOOLS, Toolbox, default_tools, edit_tools_for, family_of, tools_for

PROMPT_BUDGET = 2_500


def names(family: str) -> list[str]:
    return [tool.name for tool in edit_tools_for(family)]


def test_each_family_gets_its_edit_formats() -> None:
    assert names("qwen2.5") == names("hermes") == ["edit_file", "create_file"]
    assert (
        names("qwen3-coder")
        == names("glm")
        == names("llama3")
        == ["edit_file", "replace_lines", "create_file"]
    )
    assert names("mistral") == ["edit_file", "create_file"]
    assert names("gpt-oss") == ["apply_patch", "create_file"]
    assert names("generic") == names("Some-New-Model") == ["edit_file", "apply_patch", "create_file"]


def test_the_engines_format_names_pick_the_same_families() -> None:
    from agent.formats import FORMAT_NAMES

    assert all(family_of(name) != "generic" or name == "json" for name in FORMAT_NAMES)
    assert names("glm47") == names("glm") and names("qwen3_coder") == names("qwen3-coder")


def test_tools_for_swaps_the_edit_tools_in_place() -> None:
    box = Toolbox(tools_for("gpt-oss", default_tools()))
    assert box.names == [
        "read_file",
        "search",
        "find_symbol",
        "list_files",
        "apply_patch",
        "create_file",
        "run_tests",
        "shell",
        "finish",
    ]
    for spec in box.specs():
        jsonschema.Draft202012Validator.check_schema(spec.parameters)
        assert 0 < len(spec.description) <= 120 and spec.description.count(".") <= 2


@pytest.fixture(scope="module")
def tokenizer():
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(pull("qwen2.5-coder-0.5b", use_hub=False)), vocab_only=True, verbose=False
    )


@pytest.mark.parametrize("family", sorted(FAMILY_TOOLS))
def test_tools_and_system_prompt_fit_the_budget(family: str, tokenizer) -> None:
    box = Toolbox(tools_for(family, default_tools()))
    text = prompts.render("system", tools=box.names, test_after_edit=True) + json.dumps(
        [spec.model_dump() for spec in box.specs()]
    )
    assert len(tokenizer.tokenize(text.encode(), add_bos=False)) <= PROMPT_BUDGET
