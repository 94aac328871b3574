"""Tool specs and calls every wire format must round-trip (tests of formats, constraints, engines)."""

from __future__ import annotations

from agent.messages import ToolCall, ToolSpec

EDIT = ToolSpec(
    name="edit_file",
    description="Replace old_text with new_text in a file.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "old_text": {"type": "string"},
            "new_text": {"type": "string"},
        },
        "required": ["path", "old_text", "new_text"],
    },
)

READ = ToolSpec(
    name="read_file",
    description="Show a file's lines.",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["path"],
    },
)

CONFIGURE = ToolSpec(
    name="configure",
    description="Set options.",
    parameters={
        "type": "object",
        "properties": {
            "verbose": {"type": "boolean"},
            "paths": {"type": "array", "items": {"type": "string"}},
            "ratio": {"type": "number"},
        },
        "required": ["verbose"],
    },
)

TOOLS = [READ, EDIT, CONFIGURE]

SCHEMAS = {t.name: t.parameters for t in TOOLS}

CALLS = [
    ToolCall(id="c", name="read_file", arguments={"path": "src/app.py", "start_line": 12}),
    ToolCall(
        id="c",
        name="edit_file",
        arguments={
            "path": "stats.py",
            "old_text": "    if n < 2:\n        return xs[0]",
            "new_text": '    if n <= 1:  # "edge" </b> case, ü\n        return xs[0]\n',
        },
    ),
    ToolCall(id="c", name="configure", arguments={"verbose": True, "paths": ["a", "b"], "ratio": 0.5}),
]
