"""Draft-and-test repair: fixes written as code blocks, each tried on the tree with the tests.

When the tests show the bug before any change, the run starts here, before the tool-calling loop.
The model reads the issue, the repository context and the failing tests, says in a sentence or
two what causes the bug and writes the fixed definitions in one fenced block; `write_code`
merges them into the files that hold them (tools/editing/definitions.py), and the whole suite runs on
the result. A draft is judged by the evidence (agent/loop/evidence.py): one after which every
test that failed before passes and nothing that passed breaks is the fix; one that fixes some of
them, breaks nothing and leaves the rest failing exactly as before (tests that fail for reasons of
their own, as real repositories have) is kept as a candidate, taken when a round brings nothing
better. A draft that makes the tests pass by special-casing their values (agent/loop/gaming.py)
is refused and the model told why. Otherwise the tree goes back as it was and more replies are
drawn (sampled; the prompt's KV cache is reused, so a draft costs its reply's tokens); after each
round the closest draft so far (fewest failing tests, a changed
result over none), one not shown before, goes back to the model with its test output, to be
corrected. A round that brings nothing new goes back to the first prompt.

Small local models fix far more this way than by quoting text into JSON edit calls: code in a
fence is what they were trained to write, and nothing they write is wasted on reading files
whose text the prompt already holds. Measured on ../shared/minibugs (tests/bench/bench_minibugs.py).

If no draft passes within its share of the time, the tree is as it was, the closest draft is
kept as a set-aside attempt (the run leaves it when nothing better comes), and the tool-calling
loop takes over with the time left.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import prompts
from agent.engines.base import ChatOptions
from agent.events import ChatDone, ToolStarted
from agent.loop.base import Tools, Worktree
from agent.loop.checks import last_output
from agent.loop.code_blocks import CodeBlock, close_open_fence, code_blocks
from agent.loop.errors import StopRun
from agent.loop.evidence import Evidence, judge
from agent.loop.gaming import special_casing
from agent.loop.held_back import HeldBack, HeldBackCheck, held_back_of, special_cased_source
from agent.loop.state import RepairBudget, Run, SetAside
from agent.loop.suite_runs import clip, failing_count, failures_as_before, ran_tests, same_result
from agent.loop.suite_source import failing_tests_source
from agent.loop.turns import Turns
from agent.messages import Message, ToolCall
from tools.base import ToolOutcome

# a reply ends at the close of its first fenced block: what a model writes after it (usage
# examples, a restated explanation) costs decode time and is never used
BLOCK_END = "\n```\n"
TESTS_CHARS = 2000


@dataclass
class Draft:
    """A fix the model wrote, tried on the tree: its change and how the tests fared on it."""

    number: int
    reply: str  # the reply it came from (its fence closed)
    diff: str
    tests: dict[str, Any]
    failing: float
    same_as_before: bool  # every test fails as it did before any change
    evidence: Evidence | None = None
    gamed: str = ""  # why it was refused: it special-cased the tests' values
    missed: str = ""  # why it was refused: the held-back test (held_back.py) fails on it
    missed_output: str = ""  # that test's output
    fed_back: bool = False

    @property
    def candidate(self) -> bool:
        """It fixed a test that failed, broke none, and was not refused."""
        return self.evidence is not None and self.evidence.shown_fixed and not self.gamed and not self.missed

    @property
    def refused(self) -> str:
        return self.gamed or self.missed


def _closeness(draft: Draft) -> tuple[bool, int, float, bool]:
    """A candidate first (most tests fixed), then fewest failing; on a tie, a draft that changed
    some result before one that did not."""
    fixed = len(draft.evidence.fixed) if draft.evidence is not None else 0
    return not draft.candidate, -fixed, draft.failing, draft.same_as_before


@dataclass
class RepairResult:
    resolved: bool = False
    summary: str = ""  # the resolving reply's explanation
    replies: int = 0
    drafts: list[Draft] = field(default_factory=list)  # the ones tried that did not pass
    gamed: int = 0  # drafts refused for special-casing the tests' values
    partial: bool = False  # resolved by a candidate: some tests that failed before still fail

    def closest(self) -> Draft | None:
        return min(self.drafts, key=_closeness, default=None)

    def candidate(self) -> Draft | None:
        best = self.closest()
        return best if best is not None and best.candidate else None


@dataclass
class RepairHost:
    """What the phase needs from the run: model turns, edits, tests, the tree."""

    chat: Callable[[list[Message], ChatOptions], ChatDone]  # no tools; usage counted, text shown
    write: Callable[[ToolCall], ToolOutcome]  # a write_code call, run and shown
    test: Callable[[str], dict[str, Any]]  # the whole suite on the tree as it is, shown
    set_aside: Callable[[], str]  # the tree back to where the phase started; returns the diff removed
    restore: Callable[[str], None]  # a diff set aside back on the tree
    version: Callable[[], str]  # a key of the tree's content (its diff from the base commit)
    seconds_left: Callable[[], float]  # of the phase's share
    step: Callable[[], None]  # a new step starts (each reply is one)
    notice: Callable[[str], None]
    judge: Callable[[dict[str, Any]], Evidence]  # a run of the tests against the runs before any change
    gaming: Callable[[], str]  # why the change on the tree special-cases the tests' values, or ""
    # why the held-back test fails on the tree ("" when it passes or there is none), and its output
    held_back: Callable[[], tuple[str, str]] = lambda: ("", "")


def summary_of(reply: str) -> str:
    """The reply's explanation: its text before the first code block, first sentences."""
    text = reply.split("```", 1)[0].strip()
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297].rsplit(" ", 1)[0] + "..."


class Repair:
    def __init__(self, host: RepairHost, budget: RepairBudget, language: str = "python") -> None:
        self.host = host
        self.budget = budget
        self.language = language
        self._tried: set[str] = set()  # hashes of the diffs tried
        self._drafts = 0

    def opening(
        self, task: str, context: str, tests_output: str, instructions: str, lead: list[Message] | None
    ) -> list[Message]:
        """The first prompt; after a reproduction (`lead`: its conversation, up to the kept test)
        it goes on from there, so the KV cache serves all of it."""
        tests = clip(tests_output, TESTS_CHARS)
        if lead:
            again = prompts.render("repair_after_repro", tests=tests, language=self.language)
            return [*lead, Message.user(again)]
        task_text = prompts.render(
            "repair_task",
            task=task,
            context=context,
            tests=tests,
            language=self.language,
            instructions=instructions,
        )
        return [Message.system(prompts.render("repair_system")), Message.user(task_text)]

    def run(
        self,
        task: str,
        context: str,
        tests_output: str,
        baseline: dict[str, Any],
        instructions: str = "",
        lead: list[Message] | None = None,
    ) -> RepairResult:
        result = RepairResult()
        opening = self.opening(task, context, tests_output, instructions, lead)
        conversation = opening
        while self._room(result):
            fresh: list[Draft] = []
            for _ in range(self.budget.per_round):
                if not self._room(result):
                    break
                reply = self._reply(conversation, result)
                for draft in self._try(reply, baseline, result):
                    if draft is None:  # it passed: the change is on the tree
                        result.resolved = True
                        result.summary = summary_of(reply)
                        return result
                    fresh.append(draft)
            if self._settle(result, fresh, baseline):
                return result
            conversation = self._next(opening, fresh, result)
        self._settle(result, [], baseline, final=True)
        return result

    def _settle(
        self, result: RepairResult, fresh: list[Draft], baseline: dict[str, Any], final: bool = False
    ) -> bool:
        """Take the best candidate when this round brought nothing better and what still fails
        fails as before any change (or the phase is over): True when it is on the tree."""
        best = result.candidate()
        if best is None or best.evidence is None:
            return False
        quiet = failures_as_before(baseline, best.tests)
        if not final and (not quiet or any(d is not best and d.candidate for d in fresh) or best in fresh):
            return False
        self.host.set_aside()
        self.host.restore(best.diff)
        result.resolved, result.partial = True, True
        result.summary = summary_of(best.reply)
        self.host.notice(f"repair: draft {best.number} kept: {best.evidence.reason()}")
        return True

    def _room(self, result: RepairResult) -> bool:
        return result.replies < self.budget.drafts and self.host.seconds_left() >= self.budget.min_seconds

    def _reply(self, conversation: list[Message], result: RepairResult) -> str:
        self.host.step()
        first = result.replies == 0
        options = ChatOptions(
            tool_choice="none",
            max_tokens=self.budget.max_tokens,
            temperature=0.0 if first else self.budget.temperature,
            seed=result.replies,
            stop=[BLOCK_END],
        )
        result.replies += 1
        done = self.host.chat(conversation, options)
        reply = close_open_fence(done.message.content)
        if _usable(code_blocks(reply)) or not self._room(result):
            return reply
        # an explanation with no code: ask for it, on from the reply (its prefix is cached)
        nudge = Message.user(prompts.render("repair_no_code", language=self.language))
        self.host.step()
        result.replies += 1
        done = self.host.chat([*conversation, Message(role="assistant", content=reply), nudge], options)
        return close_open_fence(done.message.content)

    def _try(self, reply: str, baseline: dict[str, Any], result: RepairResult) -> list[Draft | None]:
        """Each way of taking the reply's blocks (all of them, then each alone), tried on the tree;
        None in the list: that one fixed every test that failed (and it stays on the tree)."""
        blocks = _usable(code_blocks(reply))
        groups = [blocks] + ([[block] for block in blocks] if len(blocks) > 1 else [])
        drafts: list[Draft | None] = []
        for group in groups:
            self._drafts += 1
            number = self._drafts
            applied = self._apply(group, number)
            version = self.host.version() if applied else ""
            if not applied or version in self._tried:  # nothing written, or a change tried already
                self.host.set_aside()
                continue
            self._tried.add(version)
            tests = self.host.test(f"repair_{number}_tests")
            evidence = self.host.judge(tests)
            gamed = self.host.gaming() if evidence.shown_fixed else ""
            missed, output = self.host.held_back() if evidence.shown_fixed and not gamed else ("", "")
            if evidence.complete and not gamed and not missed:
                drafts.append(None)
                return drafts
            diff = self.host.set_aside()
            failing = failing_count(tests, baseline)
            same = same_result(baseline, tests)
            draft = Draft(number, reply, diff, tests, failing, same, evidence, gamed, missed, output)
            result.drafts.append(draft)
            result.gamed += bool(gamed)
            drafts.append(draft)
            self.host.notice(_told(draft))
        return drafts

    def _apply(self, group: list[CodeBlock], number: int) -> bool:
        """Write each block of `group` with write_code; True when any of them changed a file."""
        applied = False
        for k, block in enumerate(group, 1):
            arguments: dict[str, Any] = {"code": block.code}
            if block.path:
                arguments["path"] = block.path
            call = ToolCall(id=f"repair_{number}_{k}", name="write_code", arguments=arguments)
            outcome = self.host.write(call)
            if outcome.error is not None and "path" in arguments:  # a file name the model got wrong
                outcome = self.host.write(call.model_copy(update={"arguments": {"code": block.code}}))
            applied = applied or outcome.error is None
        return applied

    def _next(self, opening: list[Message], fresh: list[Draft], result: RepairResult) -> list[Message]:
        """The next round's conversation: the closest draft not shown yet, with its tests (or why
        it was refused), when this round brought any; else the first prompt again."""
        waiting = [d for d in result.drafts if not d.fed_back]
        if not fresh or not waiting:
            return opening
        draft = min(waiting, key=lambda d: (not d.refused, *_closeness(d)))
        draft.fed_back = True
        tests = clip(str(draft.tests.get("output", "")), TESTS_CHARS)
        if draft.gamed:
            again = prompts.render("repair_gamed", why=draft.gamed, language=self.language)
        elif draft.missed:
            output = clip(draft.missed_output, TESTS_CHARS)
            again = prompts.render(
                "repair_held_back", why=draft.missed, output=output, language=self.language
            )
        else:
            again = prompts.render("repair_again", tests=tests, language=self.language)
        return [*opening, Message(role="assistant", content=draft.reply), Message.user(again)]


def _told(draft: Draft) -> str:
    """How a draft fared, for the run's log."""
    if draft.refused:
        return f"draft {draft.number}: refused: {draft.refused}"
    said = f"draft {draft.number}: {_count(draft.failing)} failing"
    if draft.candidate and draft.evidence is not None:
        return f"{said} ({draft.evidence.reason()})"
    return said + (", as before any change" if draft.same_as_before else "")


def _usable(blocks: list[CodeBlock]) -> list[CodeBlock]:
    """Blocks that could be a fix: code, and not a test (a block of test functions only)."""
    return [b for b in blocks if b.is_code and not _only_tests(b.code)]


def _only_tests(code: str) -> bool:
    names = re.findall(r"^\s*(?:async\s+)?def\s+(\w+)|^\s*class\s+(\w+)", code, re.M)
    defined = [a or b for a, b in names]
    return bool(defined) and all(n.startswith(("test", "Test")) for n in defined)


def _count(failing: float) -> str:
    return "no count of" if failing == float("inf") else str(int(failing))


def language_of(context: str, baseline: dict[str, Any]) -> str:
    """The language fixes are written in: Python for a pytest run, else that of the context's
    first fenced block that names one."""
    failing = [str(t) for t in baseline.get("failing", [])]
    if any(t.split("::", 1)[0].endswith(".py") for t in failing):
        return "python"
    return next((block.language for block in code_blocks(context) if block.language), "python")


class RepairPhase:
    """The repair phase in a run: whether it runs, the `RepairHost` it gets, and what it leaves:
    a resolved run, or the tree as it was with the closest draft kept as attempt 0."""

    def __init__(
        self,
        run: Run,
        turns: Turns,
        tools: Tools,
        worktree: Worktree,
        verify: Callable[[str], None],
        samples: bool,
    ) -> None:
        """`verify`: the whole suite on the tree as it is, under the given call id; `samples`:
        the engine's draws can differ (a replay could only repeat itself)."""
        self.run = run
        self.turns = turns
        self.tools = tools
        self.worktree = worktree
        self.verify = verify
        self.samples = samples
        self._until = 0.0

    def wanted(self) -> bool:
        """The phase runs: the tests show the bug, and drafts can be written and tried."""
        baseline = self.run.state.tests.baseline
        mode = self.run.budgets.repair.mode
        return (
            mode != "off"
            and (mode == "always" or self.samples)
            and self.run.budgets.loop.test_after_edit
            and self.tools.code_writer is not None
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
        )

    def run_phase(
        self, task: str, context: str, instructions: str, lead: list[Message] | None = None
    ) -> bool:
        """Draft-and-test repair; True when a draft fixed the tests that failed (the run is over).
        `lead`: the reproduction phase's conversation, up to the test it kept."""
        state, budgets = self.run.state, self.run.budgets
        budget = budgets.repair
        # its replies are steps of the run: at most its share of them, the rest are the loop's
        share = max(1, int(budget.share * budgets.loop.max_steps))
        budget = budget.model_copy(update={"drafts": min(budget.drafts, share)})
        self._until = time.monotonic() + budget.share * max(self.run.time_left(), 0.0)
        self.run.notice(
            f"repair: the model writes fixes as code, each tried with the tests "
            f"(up to {budget.share * max(self.run.time_left(), 0.0):.0f}s)",
        )
        baseline = state.tests.baseline or {}
        try:
            result = Repair(self._host(), budget, language_of(context, baseline)).run(
                task, context, last_output(state.tests), baseline, instructions, lead
            )
        except StopRun as stop:  # interrupted by the user
            self.run.stopped(stop)
            return True
        state.repair = result
        if result.resolved:
            state.summary = result.summary
            state.stop_reason = "finished"
            if result.partial:  # a candidate put back: its tests ran on it before; they run again
                state.tests.changed_since = True
            self.run.tick_plan(list(range(len(state.plan))))
            return True
        closest = result.closest()
        if closest is not None and closest.failing <= failing_count(baseline) and not closest.same_as_before:
            state.set_aside.append(SetAside(0, closest.diff, closest.tests))
        state.tests.last, state.tests.changed_since = state.tests.baseline, False
        self.run.notice(
            f"repair: {len(result.drafts)} drafts from {result.replies} replies, none fixed the tests; "
            "going on with tools",
        )
        return False

    def _host(self) -> RepairHost:
        return RepairHost(
            chat=self._chat,
            write=self._write,
            test=self._test,
            set_aside=self.worktree.set_aside,
            restore=self.worktree.restore,
            version=self.worktree.code_version,
            seconds_left=self._seconds_left,
            step=self._step,
            notice=self.run.notice,
            judge=lambda tests: judge(
                self.run.state.tests.baseline, tests, about_issue=self.run.state.tests.about_issue
            ),
            gaming=self._gaming,
            held_back=self._held_back,
        )

    def _gaming(self) -> str:
        """Why the change on the tree special-cases the values of the tests that failed, or ""."""
        baseline = self.run.state.tests.baseline or {}
        source = failing_tests_source(self.tools.ctx.root, [str(t) for t in baseline.get("failing", [])])
        return special_casing(self.worktree.changes(), source + special_cased_source(self._held()))

    def _held_back(self) -> tuple[str, str]:
        """Why the held-back test fails on the change on the tree, and its output ("" when it passes)."""
        held = self._held()
        missed = HeldBackCheck(self.tools, self.run.emit, held).missed()
        return missed, held.output if missed and held is not None else ""

    def _held(self) -> HeldBack | None:
        return held_back_of(self.run.state)

    def _chat(self, messages: list[Message], options: ChatOptions) -> ChatDone:
        return self.turns.converse(messages, [], options)

    def _write(self, call: ToolCall) -> ToolOutcome:
        self.run.state.tool_calls += 1
        self.run.emit(ToolStarted(call=call))
        outcome = self.tools.write_code(call)
        self.run.tool_finished(call, outcome)
        return outcome

    def _test(self, call_id: str) -> dict[str, Any]:
        self.verify(call_id)
        return self.run.state.tests.last or {}

    def _seconds_left(self) -> float:
        return min(self._until - time.monotonic(), self.run.time_left())

    def _step(self) -> None:
        self.turns.steer()
        self.run.new_step()
