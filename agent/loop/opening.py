"""The tool loop's first two messages: the system prompt (the tools, how edits are checked) and
the task (the issue, the repository context, the project's AGENTS.md block, the tests before any
change)."""

from __future__ import annotations

import prompts
from agent.loop.state import Budgets
from agent.messages import Message, ToolSpec


def opening_messages(
    specs: list[ToolSpec],
    budgets: Budgets,
    test_command: str | None,
    task: str,
    context: str,
    instructions: str,
    tests: str,
) -> list[Message]:
    system = prompts.render(
        "system", tools=[s.name for s in specs], test_after_edit=budgets.loop.test_after_edit
    )
    user = prompts.render(
        "task",
        task=task,
        context=context,
        plan=budgets.loop.plan,
        instructions=instructions,
        test_command=test_command,
        tests=tests,
    )
    return [Message.system(system), Message.user(user)]
