"""How an attempt goes round in circles: the same call made again with no change to the code in
between, edits that put the code back to a version it had before, replies without a tool call.
Each ends the attempt (`Stuck`) after a few; before that, the model is told, and the next turn
is sampled instead of greedy (a greedy model given the same context makes the same call again).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import prompts
from agent.loop.errors import Stuck
from agent.loop.state import Run
from agent.messages import Message, ToolCall


class Repeats:
    """Repeats in one run, counted per version of the code (`CallRecord`)."""

    def __init__(self, run: Run, version: Callable[[], str]) -> None:
        """`version`: a key of the code as it is."""
        self.run = run
        self.version = version

    def attempt_starts(self) -> None:
        """The code as an attempt starts is a version too."""
        calls = self.run.state.calls
        calls.versions[self.version()] = calls.seen

    def check(self, call: ToolCall) -> None:
        """Count `call` on the code as it is; stop when it was made too often."""
        calls = self.run.state.calls
        signature = call.name + json.dumps(call.arguments, sort_keys=True) + (call.raw_arguments or "")
        calls.repeats = calls.seen.get(signature, 0)
        calls.seen[signature] = calls.repeats + 1
        if calls.repeats + 1 >= self.run.budgets.max_repeats:
            raise Stuck(
                "repeated_call",
                f"the model made the same `{call.name}` call {calls.repeats + 1} times "
                "without changing the code in between",
            )

    def code_changed(self) -> bool:
        """After an edit: a new version of the code starts with no calls seen; a version the
        attempt had before gets back the calls made on it (running the same tests on it again is
        a repeat). True when the code went back to an earlier version."""
        calls = self.run.state.calls
        version = self.version()
        if version in calls.versions:
            calls.seen = calls.versions[version]
            calls.revisits += 1
            calls.repeats = max(calls.repeats, 1)  # the next turn is sampled
            return True
        calls.seen = {}  # the code changed: the same test run now means something new
        calls.versions[version] = calls.seen
        return False

    def check_revisits(self) -> None:
        """After an edit that put the code back: stop when it happened too often."""
        revisits = self.run.state.calls.revisits
        if revisits >= self.run.budgets.max_repeats:
            raise Stuck(
                "repeated_call", f"the edits put the code back to a version it had before {revisits} times"
            )

    def noted(self, text: str, revisited: bool) -> str:
        """A tool result as the model reads it: told when its call was a repeat or its edit a revisit."""
        if revisited:
            return prompts.render("code_revisited") + "\n" + text
        if self.run.state.calls.repeats >= 1:
            return prompts.render("repeated_call") + "\n" + text
        return text

    def idle_turn(self) -> None:
        """A reply without a tool call: counted as a model error, nudged, too many in a row stop."""
        state = self.run.state
        state.calls.idle_turns += 1
        self.run.model_error("no_tool_call", "the reply contained no tool call")
        if state.calls.idle_turns >= self.run.budgets.max_idle_turns:
            raise Stuck("no_progress", f"{state.calls.idle_turns} replies in a row without a tool call")
        state.messages.append(Message.user(prompts.render("nudge_no_call")))
