"""Parsing Hermes-style tool calls out of model text, and streaming around them."""

from __future__ import annotations

import json

import pytest

from agent.messages import ToolCall
from agent.toolcalls import StreamSplitter, parse_tool_calls, render_call


def test_well_formed_call_with_reasoning_before() -> None:
    text, calls = parse_tool_calls(
        'I will read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'
    )
    assert text == "I will read it."
    assert [(c.name, c.arguments, c.parse_error) for c in calls] == [("read_file", {"path": "a.py"}, None)]


def test_two_calls_get_distinct_ids() -> None:
    one = '<tool_call>{"name": "a", "arguments": {}}</tool_call>'
    _, calls = parse_tool_calls(one + "\n" + one.replace('"a"', '"b"'))
    assert [c.name for c in calls] == ["a", "b"]
    assert len({c.id for c in calls}) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"name": "x", "arguments": {"n": 1,},}', {"n": 1}),  # trailing commas
        ("{'name': 'x', 'arguments': {'n': 1}}", {"n": 1}),  # single quotes
        ('{"name": "x", "arguments": "{\\"n\\": 1}"}', {"n": 1}),  # arguments as a JSON string
        ('{"name": "x", "parameters": {"n": 1}}', {"n": 1}),  # "parameters" instead of "arguments"
    ],
)
def test_unambiguous_near_misses_are_repaired(body: str, expected: dict[str, int]) -> None:
    _, calls = parse_tool_calls(f"<tool_call>\n{body}\n</tool_call>")
    assert calls[0].parse_error is None and calls[0].arguments == expected


def test_unclosed_final_tag_is_accepted() -> None:
    _, calls = parse_tool_calls('<tool_call>\n{"name": "x", "arguments": {"n": 2}}')
    assert calls[0].arguments == {"n": 2} and calls[0].parse_error is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"name": "x", "arguments": {"n": }', "not valid JSON"),
        ('["x", {}]', '"name" string'),
        ('{"name": "x", "arguments": [1, 2]}', "must be a JSON object"),
    ],
)
def test_broken_calls_carry_a_precise_error(body: str, fragment: str) -> None:
    _, calls = parse_tool_calls(f"<tool_call>{body}</tool_call>")
    assert calls[0].parse_error is not None and fragment in calls[0].parse_error
    assert calls[0].raw_arguments


def test_render_call_round_trips() -> None:
    call = ToolCall(id="c", name="edit_file", arguments={"path": "a.py", "new_text": 'ü\n"q"'})
    _, calls = parse_tool_calls(render_call(call))
    assert calls[0].arguments == call.arguments
    assert render_call(call).splitlines()[1] == json.dumps(
        {"name": "edit_file", "arguments": call.arguments}, ensure_ascii=False
    )


def test_splitter_holds_back_a_split_tag_and_stops_at_the_call() -> None:
    splitter = StreamSplitter()
    shown = [splitter.feed(chunk) for chunk in ["Let me ", "read <to", "ol_call>", '{"name"']]
    assert "".join(shown) == "Let me read "
    assert splitter.in_call and splitter.flush() == ""


def test_splitter_releases_text_that_was_not_a_tag() -> None:
    splitter = StreamSplitter(stops=["<|im_end|>"])
    assert splitter.feed("a <t") == "a "
    assert splitter.feed("able>") == "<table>"
    assert splitter.feed("done<|im_") == "done"
    assert splitter.feed("end|>more") == "" and splitter.stopped
