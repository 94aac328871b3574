"""Parsing Hermes-style tool calls out of model text, and streaming around them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.formats.hermes import CLOSE, OPEN, HermesFormat
from agent.formats.stream import StreamSplitter
from agent.messages import ToolCall

HERMES = HermesFormat()
render_call, render_calls, call_id = HERMES.render_call, HERMES.render_calls, HERMES.call_id


def parse_tool_calls(text: str, first_id: int = 0) -> tuple[str, list[ToolCall]]:
    reply = HERMES.parse_calls(text, [], first_index=first_id)
    return reply.content, reply.calls


def tagged(body: str) -> str:
    return f"{OPEN}\n{body}\n{CLOSE}"


def test_well_formed_call_with_reasoning_before() -> None:
    text, calls = parse_tool_calls(
        "I will read it.\n" + tagged('{"name": "read_file", "arguments": {"path": "a.py"}}')
    )
    assert text == "I will read it."
    assert [(c.id, c.name, c.arguments, c.parse_error) for c in calls] == [
        ("call_0", "read_file", {"path": "a.py"}, None)
    ]


def test_two_calls_get_distinct_ids_and_text_around_them_is_kept() -> None:
    one = tagged('{"name": "a", "arguments": {}}')
    text, calls = parse_tool_calls("first " + one + " then " + one.replace('"a"', '"b"') + " done")
    assert [c.name for c in calls] == ["a", "b"]
    assert [c.id for c in calls] == [call_id(0), call_id(1)] == ["call_0", "call_1"]
    assert text == "first  then  done"


def test_ids_can_continue_a_numbering() -> None:
    _, calls = parse_tool_calls(tagged('{"name": "a", "arguments": {}}'), first_id=3)
    assert calls[0].id == "call_3"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"name": "x", "arguments": {"n": 1,},}', {"n": 1}),  # trailing commas
        ("{'name': 'x', 'arguments': {'n': 1}}", {"n": 1}),  # single quotes
        ("{'name': 'x', 'arguments': {'s': 'it\\'s \"q\"'}}", {"s": 'it\'s "q"'}),  # quotes inside
        ("{'name': 'x', 'arguments': {'ok': True, 'v': None}}", {"ok": True, "v": None}),  # Python words
        ('{"name": "x", "arguments": {"s": "a, }",}}', {"s": "a, }"}),  # a comma inside a string stays
        ('{"name": "x", "arguments": {"code": "a\nb"}}', {"code": "a\nb"}),  # raw newline in a string
        ('{"name": "x", "arguments": {"n": 1}', {"n": 1}),  # missing final brace
        ('{"name": "x", "arguments": {"n": 1}}}', {"n": 1}),  # one brace too many
        ('{"name": "x", "arguments": "{\\"n\\": 1}"}', {"n": 1}),  # arguments as a JSON string
        ('{"name": "x", "parameters": {"n": 1}}', {"n": 1}),  # "parameters" instead of "arguments"
        ('```json\n{"name": "x", "arguments": {"n": 1}}\n```', {"n": 1}),  # fenced inside the tags
    ],
)
def test_unambiguous_near_misses_are_repaired(body: str, expected: dict[str, Any]) -> None:
    _, calls = parse_tool_calls(tagged(body))
    assert calls[0].parse_error is None, calls[0].parse_error
    assert calls[0].name == "x" and calls[0].arguments == expected


def test_unclosed_final_tag_is_accepted() -> None:
    text, calls = parse_tool_calls('Reading.\n<tool_call>\n{"name": "x", "arguments": {"n": 2}}')
    assert text == "Reading."
    assert calls[0].arguments == {"n": 2} and calls[0].parse_error is None


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ('{"name": "x", "arguments": {"n": }', ["not valid JSON", "Expecting value", "column 34"]),
        ('{"name": "x", "arguments": {"path": "cut off', ["Unterminated string", "column 37"]),
        ('{"name": "x"} {"name": "y"}', ["Extra data", "column 15"]),
        ('["x", {}]', ['"name" string']),
        ('{"name": "x", "arguments": [1, 2]}', ["must be a JSON object, not list"]),
        ('{"name": "x", "arguments": "{\'n\': }"}', ["arguments string is not valid JSON"]),
        ("", ["empty"]),
    ],
)
def test_broken_calls_carry_a_precise_error(body: str, fragments: list[str]) -> None:
    _, calls = parse_tool_calls("text " + tagged(body))
    error = calls[0].parse_error
    assert error is not None
    for fragment in fragments:
        assert fragment in error
    assert calls[0].raw_arguments is not None


def test_broken_call_keeps_the_name_when_it_can_be_read() -> None:
    _, calls = parse_tool_calls(tagged('{"name": "edit_file", "arguments": {"path": }'))
    assert calls[0].name == "edit_file" and calls[0].parse_error


def test_text_without_calls_is_returned_whole() -> None:
    assert parse_tool_calls("  just an answer \n") == ("just an answer", [])


def test_render_call_round_trips_and_is_canonical() -> None:
    call = ToolCall(id="c", name="edit_file", arguments={"path": "a.py", "new_text": 'ü\n"q"'})
    rendered = render_call(call)
    body = json.dumps({"name": "edit_file", "arguments": call.arguments}, ensure_ascii=False)
    assert rendered == f"<tool_call>\n{body}\n</tool_call>"
    _, calls = parse_tool_calls(rendered)
    assert calls[0].arguments == call.arguments and calls[0].name == call.name


def test_several_calls_render_and_parse_back_in_order() -> None:
    calls = [ToolCall(id=call_id(i), name=f"t{i}", arguments={"i": i}) for i in range(3)]
    _, parsed = parse_tool_calls(render_calls(calls))
    assert parsed == calls


def test_splitter_holds_back_a_split_tag_and_stops_at_the_call() -> None:
    splitter = StreamSplitter(opens=[OPEN])
    shown = [splitter.feed(chunk) for chunk in ["Let me ", "read <to", "ol_call>", '{"name"']]
    assert "".join(shown) == "Let me read "
    assert splitter.in_call and splitter.opener == OPEN and splitter.flush() == ""


def test_splitter_releases_text_that_was_not_a_tag() -> None:
    splitter = StreamSplitter(stops=["<|im_end|>"], opens=[OPEN])
    assert splitter.feed("a <t") == "a "
    assert splitter.feed("able>") == "<table>"
    assert splitter.feed("done<|im_") == "done"
    assert splitter.feed("end|>more") == "" and splitter.stopped and not splitter.in_call


def test_splitter_flushes_a_held_back_tail_at_the_end() -> None:
    splitter = StreamSplitter(opens=[OPEN])
    assert splitter.feed("x <tool") == "x "
    assert splitter.flush() == "<tool"


def test_splitter_watches_several_openers() -> None:
    splitter = StreamSplitter(opens=[OPEN, '{"name":'])
    out = "".join(splitter.feed(c) for c in ["Sure. ", '{"na', 'me": "read_file"'])
    assert out == "Sure. " and splitter.opener == '{"name":'


def test_splitter_token_by_token_equals_the_text_before_the_call() -> None:
    text = "Plan: read <b>a.py</b> first.\n<tool_call>\n{}"
    splitter = StreamSplitter(opens=[OPEN])
    shown = "".join(splitter.feed(ch) for ch in text) + splitter.flush()
    assert shown == text[: text.index(OPEN)]


def test_a_lone_surrogate_escape_becomes_a_replacement_character() -> None:
    """The 1.5B model sampled `\\udfff` in new_text; the next prompt could not be encoded."""
    body = '{"name": "edit_file", "arguments": {"path": "a.py", "old_text": "x", "new_text": "y\\udfff"}}'
    _, calls = parse_tool_calls(tagged(body))
    new_text = calls[0].arguments["new_text"]
    assert new_text == "y\ufffd" and new_text.encode("utf-8")
    # a pair written as two escapes is one character, kept
    _, calls = parse_tool_calls(tagged(body.replace("\\udfff", "\\ud83d\\ude00")))
    assert calls[0].arguments["new_text"] == "y\U0001f600"


def test_json_nested_100k_deep_is_a_parse_error_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for body in (
        '{"name": "read_file", "arguments": {"path": ' + deep + "}}",
        '{"name": "read_file", "arguments": "{\\"path\\": ' + deep + '}"}',
        "{" * 100_000,
    ):
        _, calls = parse_tool_calls(tagged(body))
        assert calls[0].parse_error and "nested more than 64 levels deep" in calls[0].parse_error
    flat = '{"name": "f", "arguments": {"a": "' + "[{" * 100 + '\\"\\\\"}}'
    _, calls = parse_tool_calls(tagged(flat))
    assert calls[0].parse_error is None  # brackets inside a string are text


def test_deep_json_in_every_format_is_a_parse_error() -> None:
    from agent.formats import get_format
    from agent.messages import ToolSpec

    deep = "[" * 100_000 + "]" * 100_000
    spec = ToolSpec(
        name="f", description="", parameters={"type": "object", "properties": {"a": {"type": "array"}}}
    )
    for name, call in (
        ("json", '{"name": "f", "arguments": {"a": ' + deep + "}}"),
        ("mistral", '[TOOL_CALLS][{"name": "f", "arguments": {"a": ' + deep + "}}]"),
        ("mistral_v11", '[TOOL_CALLS]f[ARGS]{"a": ' + deep + "}"),
        ("llama3", '{"name": "f", "parameters": {"a": ' + deep + "}}"),
        ("glm45", "<tool_call>f\n<arg_key>a</arg_key>\n<arg_value>" + deep + "</arg_value>\n</tool_call>"),
        ("glm47", "<tool_call>f<arg_key>a</arg_key><arg_value>" + deep + "</arg_value></tool_call>"),
        (
            "qwen3_coder",
            "<tool_call>\n<function=f>\n<parameter=a>\n" + deep + "\n</parameter>\n</function>\n</tool_call>",
        ),
    ):
        reply = get_format(name).parse(call, [spec])
        assert reply.calls and reply.calls[0].parse_error, name
        assert "nested more than 64 levels deep" in reply.calls[0].parse_error, (
            name,
            reply.calls[0].parse_error,
        )


def test_only_the_calls_json_counts_toward_the_depth_limit() -> None:
    from agent.formats import get_format

    text = '{"name": "f", "arguments": {"a": 1}} and then x = ' + "[" * 100 + "]" * 100
    reply = get_format("json").parse(text, [])
    assert [(c.name, c.arguments, c.parse_error) for c in reply.calls] == [("f", {"a": 1}, None)]
