"""Every output in tests/data/toolcalls/ (written from the published chat templates, not from our
parser) parses to its expected content, reasoning and calls, or to the expected errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.formats import get_format
from agent.formats.stream import ReplySplitter
from agent.messages import ToolSpec
from tests.paths import DATA

CORPUS = DATA / "toolcalls"
TOOLS = [ToolSpec.model_validate(t) for t in json.loads((CORPUS / "tools.json").read_text())]
FORMAT_OF = {"mistral": "mistral_v11"}  # one parser reads both Mistral generations


def _cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        cases += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return cases


CASES = _cases()


def _same_json(a: Any, b: Any) -> bool:
    """Deep equality where 30 == 30.0 but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b if not isinstance(a, int | float) else a == b


def test_the_corpus_is_big_enough() -> None:
    per_format: dict[str, int] = {}
    for case in CASES:
        per_format[case["format"]] = per_format.get(case["format"], 0) + 1
    assert len(CASES) >= 150
    assert all(per_format[f] >= 15 for f in ("hermes", "glm45", "glm47", "qwen3_coder"))
    assert all(per_format[f] >= 10 for f in ("llama3", "mistral", "json"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_parses_as_expected(case: dict[str, Any]) -> None:
    fmt = get_format(FORMAT_OF.get(case["format"], case["format"]))
    reply = fmt.parse(case["text"], TOOLS, thinking_open=case.get("thinking_open", False))
    expect = case["expect"]
    assert reply.thinking == expect["thinking"]
    assert reply.content == expect["content"]
    assert len(reply.calls) == len(expect["calls"]), [c.model_dump() for c in reply.calls]
    for got, want in zip(reply.calls, expect["calls"], strict=True):
        if want.get("error"):
            assert got.parse_error, f"expected an error, got {got.name} {got.arguments}"
            assert not want["name"] or got.name == want["name"]
        else:
            assert got.parse_error is None, got.parse_error
            assert got.name == want["name"]
            assert _same_json(got.arguments, want["arguments"]), got.arguments


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_streaming_shows_the_reasoning_and_the_text_before_the_first_call(case: dict[str, Any]) -> None:
    fmt = get_format(FORMAT_OF.get(case["format"], case["format"]))
    splitter = ReplySplitter(fmt.triggers, stops=(), thinking_open=case.get("thinking_open", False))
    for i in range(0, len(case["text"]), 3):
        splitter.feed(case["text"][i : i + 3])
    splitter.flush()
    assert splitter.thinking.strip() == case["expect"]["thinking"]
    assert case["expect"]["content"].startswith(splitter.text.strip())
