"""Reproduce first: when no test shows the bug, the model writes one from the issue's text.

Most issues arrive as a sentence, with no failing test. Then nothing can tell a fix from a change
that does nothing, and a small model left to the tool loop wanders. So before anything else the
model writes a test from the issue: the call, the input and the expected value the user gave. It
is run alone on the code as it is, and kept only when it fails for the reason the issue states
(faithful.py); otherwise the model reads why and writes another (drafts sampled on the same
prompt, its KV cache reused). A kept test goes into a new test file following the project's
layout (`ReproBrief.path`); it becomes part of the fix, the repair phase runs against it, and the
verdict counts it as a test that failed before. The repository's own test files are untouched.

When no faithful test can be made within the phase's share of time, the run says so and goes on
as it would have; its verdict then cannot be better than `unverified`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

import prompts
from agent.engines.base import ChatOptions
from agent.events import ChatDone, ToolStarted
from agent.loop.base import Tools, Worktree
from agent.loop.drafted_tests import BLOCK_END, test_code
from agent.loop.errors import StopRun
from agent.loop.faithful import Judgement, judge_run
from agent.loop.held_back import HeldBack, draw_held_back
from agent.loop.state import ReproBudget, Run
from agent.loop.suite_runs import clip
from agent.loop.turns import Turns
from agent.messages import Message, ToolCall

OUTPUT_CHARS = 1500


class ReproBrief(BaseModel):
    """What the run found for writing a reproduction (agent/fix.py builds it from the repository)."""

    path: str  # the new test file, where the project keeps its tests: tests/test_issue_<slug>.py
    imports: list[str] = []  # import lines for the names the issue mentions, where they are defined
    example_path: str = ""  # an existing test file near the code the issue names
    example: str = ""  # its first lines: how the project's tests import and assert
    names: list[str] = []  # the code names the issue mentions (a failing test naming one is about it)


class Reproduction(BaseModel):
    """A test that fails on the code before any change for the reason the issue states."""

    path: str
    tests: list[str]  # its failing node ids
    code: str
    reason: str
    output: str  # its run on the code before the change
    drafts: int


@dataclass
class ReproHost:
    """What the phase needs from the run."""

    chat: Callable[[list[Message], ChatOptions], ChatDone]  # no tools; usage counted, text shown
    write: Callable[[str, str], str | None]  # (path, text) -> None, or why it could not be written
    test: Callable[[str], dict[str, Any]]  # run the tests of one file; their data and output
    set_aside: Callable[[], str]  # the tree back as it was
    seconds_left: Callable[[], float]
    step: Callable[[], None]
    notice: Callable[[str], None]


@dataclass
class ReproResult:
    made: Reproduction | None = None
    replies: int = 0
    drafts: int = 0
    reasons: list[str] = field(default_factory=list)  # why each draft was refused
    conversation: list[Message] = field(default_factory=list)  # up to the kept test
    held_back: HeldBack | None = None  # a second test, off the tree: checks the fix (held_back.py)


class Reproducer:
    def __init__(self, host: ReproHost, budget: ReproBudget) -> None:
        self.host = host
        self.budget = budget
        self._until = time.monotonic() + budget.share * max(host.seconds_left(), 0.0)
        self._tried: set[str] = set()

    def run(self, task: str, context: str, brief: ReproBrief, instructions: str = "") -> ReproResult:
        result = ReproResult()
        opening = [
            Message.system(prompts.render("reproduce_system")),
            Message.user(
                prompts.render(
                    "reproduce_task",
                    task=task,
                    context=context,
                    path=brief.path,
                    imports="\n".join(brief.imports),
                    example=brief.example,
                    example_path=brief.example_path,
                    instructions=instructions,
                )
            ),
        ]
        conversation, rounds = opening, 0
        while self._room(result):
            done = self._reply(conversation, result)
            reply = done.message.content
            code = test_code(reply, cut=done.finish_reason == "length")
            judged = self._try(code, brief.path, task, result) if code else None
            if judged is not None and judged[0].faithful:
                judgement, data = judged
                result.conversation = [*conversation, Message(role="assistant", content=reply)]
                result.made = Reproduction(
                    path=brief.path,
                    tests=judgement.failing,
                    code=code,
                    reason=judgement.reason,
                    output=str(data.get("output", "")),
                    drafts=result.drafts,
                )
                return result
            reason = judged[0].reason if judged else "the reply holds no test code"
            output = str(judged[1].get("output", "")) if judged else ""
            result.reasons.append(reason)
            rounds += 1
            if rounds > self.budget.feedback_rounds:
                conversation, rounds = opening, 0
            else:
                again = prompts.render("reproduce_again", reason=reason, output=clip(output, OUTPUT_CHARS))
                conversation = [*conversation, Message(role="assistant", content=reply), Message.user(again)]
        return result

    def hold_back(self, result: ReproResult, task: str) -> HeldBack | None:
        """After a kept test, a second one of the issue's examples it leaves out (held_back.py)."""
        made = result.made
        if made is None:
            return None
        kept = (made.path, made.code)
        return draw_held_back(self.host, self.budget, self._seconds_left, result.conversation, task, kept)

    def _room(self, result: ReproResult) -> bool:
        return result.replies < self.budget.drafts and self._seconds_left() >= self.budget.min_seconds

    def _seconds_left(self) -> float:
        return min(self._until - time.monotonic(), self.host.seconds_left())

    def _reply(self, conversation: list[Message], result: ReproResult) -> ChatDone:
        self.host.step()
        options = ChatOptions(
            tool_choice="none",
            max_tokens=self.budget.max_tokens,
            temperature=0.0 if result.replies == 0 else self.budget.temperature,
            seed=result.replies,
            stop=[BLOCK_END],
        )
        result.replies += 1
        return self.host.chat(conversation, options)

    def _try(
        self, code: str, path: str, task: str, result: ReproResult
    ) -> tuple[Judgement, dict[str, Any]] | None:
        """Write the test, run it alone on the code as it is; the tree goes back unless it is kept."""
        key = " ".join(code.split())
        if key in self._tried:
            return Judgement(False, "the same test as before: write a different one", []), {}
        self._tried.add(key)
        result.drafts += 1
        refused = self.host.write(path, code)
        if refused is not None:
            self.host.set_aside()
            return Judgement(False, f"the test file could not be written: {refused}", []), {}
        data = self.host.test(path)
        judgement = judge_run(data, code, task)
        kept = "kept" if judgement.faithful else "refused"
        self.host.notice(f"reproduction draft {result.drafts}: {kept}: {judgement.reason}")
        if not judgement.faithful:
            self.host.set_aside()
        return judgement, data


class ReproductionPhase:
    """The reproduction phase in a run: whether it runs, its host, and what it leaves: a kept test
    on the tree (the worktree keeps it across set-asides) and the baseline run again with it."""

    def __init__(
        self,
        run: Run,
        turns: Turns,
        tools: Tools,
        worktree: Worktree,
        verify: Callable[[str], None],
        samples: bool,
    ) -> None:
        self.run = run
        self.turns = turns
        self.tools = tools
        self.worktree = worktree
        self.verify = verify
        self.samples = samples

    def wanted(self, brief: ReproBrief | None) -> bool:
        """No test shows the bug (none fails, or none of the failing ones is about the issue: makes
        the call the issue gives, or names its code in its id or failure lines), and a test can be
        written and run."""
        baseline = self.run.state.tests.baseline
        mode = self.run.budgets.reproduce.mode
        if brief is None or mode == "off" or not (mode == "always" or self.samples) or baseline is None:
            return False
        if not self.run.budgets.loop.test_after_edit:  # a suite too slow to run after every edit
            return False
        if baseline.get("timed_out"):
            return False
        return not (self.run.state.tests.about_issue or related_failures(baseline, brief.names))

    def lead(
        self, task: str, context: str, instructions: str, brief: ReproBrief | None
    ) -> list[Message] | None:
        """When wanted, the phase; the conversation up to the test it kept (for the repair phase
        to go on from), or None."""
        if brief is None or not self.wanted(brief):
            return None
        try:
            made = self.run_phase(task, context, instructions, brief)
        except StopRun as stop:  # out of time, or the user ended the run
            self.run.stopped(stop)
            self.worktree.set_aside()
            return None
        return made.conversation if made.made is not None else None

    def run_phase(self, task: str, context: str, instructions: str, brief: ReproBrief) -> ReproResult:
        """Draft reproduction tests; a kept one stays on the tree and the baseline includes it."""
        self.run.notice("reproduce: no test shows the bug yet; the model writes one from the issue")
        host = ReproHost(
            chat=lambda messages, options: self.turns.converse(messages, [], options),
            write=self._write,
            test=self._test,
            set_aside=self.worktree.set_aside,
            seconds_left=self.run.time_left,
            step=self._step,
            notice=self.run.notice,
        )
        reproducer = Reproducer(host, self.run.budgets.reproduce)
        result = reproducer.run(task, context, brief, instructions)
        self.run.state.reproduction = result
        made = result.made
        if made is None:
            why = result.reasons[-1] if result.reasons else "no time for a draft"
            self.run.notice(
                f"reproduce: no faithful reproduction in {result.drafts} drafts (last: {why}); "
                "the verdict cannot be better than unverified",
                "warning",
            )
            return result
        self.worktree.keep()
        result.held_back = reproducer.hold_back(result, task)  # drafted, then off the tree again
        self.verify("baseline_with_reproduction")
        tests = self.run.state.tests
        tests.baseline = tests.last
        tests.about_issue = list(dict.fromkeys([*tests.about_issue, *made.tests]))
        self.run.notice(f"reproduce: kept {made.path} ({made.reason})")
        held = result.held_back
        if held is not None:
            examples = ", ".join(held.examples[:3])
            self.run.notice(f"reproduce: a second test, of {examples}, held back to check the fix")
        return result

    def _write(self, path: str, text: str) -> str | None:
        call = ToolCall(id=f"reproduce_{self.run.state.steps}", name="create_file", arguments={})
        call = call.model_copy(update={"arguments": {"path": path, "content": text}})
        self.run.emit(ToolStarted(call=call))
        outcome = self.tools.call(call)
        self.run.tool_finished(call, outcome)
        return outcome.result.output if outcome.error is not None else None

    def _test(self, path: str) -> dict[str, Any]:
        call = ToolCall(id=f"reproduce_{self.run.state.steps}_tests", name="run_tests", arguments={})
        call = call.model_copy(update={"arguments": {"paths": [path]}})
        self.run.emit(ToolStarted(call=call))
        outcome = self.tools.call(call)
        self.run.tool_finished(call, outcome)
        return {**outcome.result.data, "output": outcome.result.output}

    def _step(self) -> None:
        self.turns.steer()
        self.run.new_step()


def related_failures(baseline: dict[str, Any], names: list[str]) -> list[str]:
    """The failing tests that are about the issue: their node id or the run's failure lines name
    one of the issue's code names. With no names to go by, every failing test is."""
    failing = [str(t) for t in baseline.get("failing", [])]
    if not failing or not names:
        return failing
    output = str(baseline.get("output", ""))
    errors = "\n".join(line for line in output.splitlines() if line.startswith(("E ", "FAILED", "ERROR")))
    wanted = [n.lower() for n in names if len(n) >= 3]
    if any(n in errors.lower() for n in wanted):
        return failing
    return [t for t in failing if any(n in t.lower() for n in wanted)]
