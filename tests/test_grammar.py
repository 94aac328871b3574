"""The tool-call grammar: structure checks here; the real model honouring it is in the engine tests."""

from __future__ import annotations

import re

from agent.formats.hermes import HermesFormat
from agent.messages import ToolSpec
from tools.registry import Toolbox, default_tools

tool_call_grammar = HermesFormat().body_grammar


def test_every_tool_has_a_rule_and_names_are_literal() -> None:
    specs = Toolbox(default_tools()).specs()
    grammar = tool_call_grammar(specs).gbnf
    root = grammar.splitlines()[0]
    assert root.startswith('root ::= "\\n" (') and root.endswith(') "\\n</tool_call>"')
    for spec in specs:
        assert f"call-{spec.name.replace('_', '-')}" in root
        assert f'\\"name\\": \\"{spec.name}\\"' in grammar


def test_restricting_to_one_tool() -> None:
    specs = Toolbox(default_tools()).specs()
    root = tool_call_grammar(specs, only="finish").gbnf.splitlines()[0]
    assert root == 'root ::= "\\n" (call-finish) "\\n</tool_call>"'


def test_enums_optional_fields_and_bounded_integers() -> None:
    spec = ToolSpec(
        name="t",
        description="",
        parameters={
            "type": "object",
            "properties": {
                "mode": {"enum": ["a", "b"]},
                "n": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["mode"],
        },
    )
    grammar = tool_call_grammar([spec]).gbnf
    assert 'args-t-mode ::= "\\"a\\"" | "\\"b\\""' in grammar
    assert "posint ::= [1-9] [0-9]{0,8}" in grammar  # a weak model cannot emit a runaway number
    assert '("\\"mode\\": " args-t-mode "}")' in grammar  # optional fields may be left out
    # and no alternative is the empty string (llguidance lexes greedily: see GrammarBuilder.fields)
    assert not re.search(r'(::=|\|)\s*""\s*(\||$)', grammar, re.MULTILINE)
    assert 'char ::= [^"\\\\\\x7F\\x00-\\x1F]' in grammar  # no raw newlines inside strings
