"""Conversation messages and tool specs: the types every engine, tool and the loop share."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One call the model asked for. `arguments` is the parsed object when it parsed."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None  # the text as the model sent it, when it did not parse
    parse_error: str | None = None  # why the call could not be parsed, for the model to read

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False, sort_keys=False)


class Message(BaseModel):
    role: Role
    content: str = ""
    thinking: str = ""  # reasoning the model produced before its answer (kept for prefix reuse)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # for role == "tool"
    name: str | None = None  # tool name for role == "tool"

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def tool_result(cls, call: ToolCall, content: str) -> Message:
        return cls(role="tool", content=content, tool_call_id=call.id, name=call.name)


class ToolSpec(BaseModel):
    """What the model is shown about a tool: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    # A narrower schema the call grammar enforces (tools/grounding.py: paths limited to the
    # repository's files, old text to a file's lines). Never shown to the model, never saved.
    grammar: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)

    @property
    def grammar_schema(self) -> dict[str, Any]:
        return self.grammar or self.parameters

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }
