"""Draft-and-test repair: fixes written as code blocks, each tried on the tree with the tests.

When the tests show the bug before any change, the run starts here, before the tool-calling loop.
The model reads the issue, the repository context and the failing tests, says in a sentence or
two what causes the bug and writes the fixed definitions in one fenced block; `write_code`
merges them into the files that hold them (tools/editing/definitions.py), and the whole suite runs on
the result. A draft that makes every test pass is the fix. Otherwise the tree goes back as it
was and more replies are drawn (sampled; the prompt's KV cache is reused, so a draft costs its
reply's tokens); after each round the closest draft so far (fewest failing tests, a changed
result over none), one not shown before, goes back to the model with its test output, to be
corrected. A round that brings nothing new goes back to the first prompt.

Small local models fix far more this way than by quoting text into JSON edit calls: code in a
fence is what they were trained to write, and nothing they write is wasted on reading files
whose text the prompt already holds. Measured on ../shared/minibugs (tests/bench/bench_minibugs.py).

If no draft passes within its share of the time, the tree is as it was, the closest draft is
kept as a set-aside attempt (the run leaves it when nothing better comes), and the tool-calling
loop takes over with the time left.

Code blocks: a block opens with a line of three or more backticks (or tildes) and an optional
language, and closes with a line of the same fence; a block still open when the reply ends (cut at
a stop or a token limit) counts up to the end. The file a block is for may be named on the
(non-blank) line before it (`In timeutil/duration.py:`) or in its first line
(`# timeutil/duration.py`); `path` holds what looks like a file name there, for write_code to check
against the repository.
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
from agent.loop.errors import StopRun
from agent.loop.state import RepairBudget, Run, SetAside
from agent.loop.suite_runs import clip, failing_count, ran_tests, same_result
from agent.loop.turns import Turns
from agent.messages import Message, ToolCall
from tools.base import ToolOutcome

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n`]*$")
_FILE_NAME = re.compile(r"[\w./-]*\w\.[A-Za-z]\w{0,5}\b")
_FIRST_LINE_NAME = re.compile(r"^\s*(?:#|//|--|/\*)\s*(?:file:?\s*)?([\w./-]+\.\w+)\s*(?:\*/)?\s*$", re.I)
# what the fence's info string says for code we would never merge into a source file
NOT_CODE = frozenset(
    {"bash", "sh", "shell", "console", "zsh", "powershell", "text", "txt", "output", "diff", "patch"}
)


@dataclass(frozen=True)
class CodeBlock:
    code: str
    language: str  # the fence's info string, lower-cased ("" when none)
    path: str | None  # a file name written just before the block or in its first line
    closed: bool = True  # False: the reply ended inside it

    @property
    def is_code(self) -> bool:
        """A block of program text (not a shell session, output or a diff)."""
        return self.language not in NOT_CODE and bool(self.code.strip())


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced blocks of `text`, in order."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        fence, language = opened.group(1), opened.group(2).lower()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                closed = True
                break
            body.append(lines[j])
            j += 1
        code = "\n".join(body) + ("\n" if body else "")
        before = next((line for line in reversed(lines[max(0, i - 2) : i]) if line.strip()), "")
        blocks.append(CodeBlock(code, language, _named_path(before, body), closed))
        i = j + 1
    return blocks


def _named_path(before: str, body: list[str]) -> str | None:
    if body:
        first = _FIRST_LINE_NAME.match(body[0])
        if first:
            return first.group(1)
    names = _FILE_NAME.findall(before)
    return names[-1].strip("./") if names else None


def close_open_fence(text: str) -> str:
    """`text` with a closing fence added when it ends inside a block (a reply cut at its stop)."""
    blocks = code_blocks(text)
    if blocks and not blocks[-1].closed:
        return text.rstrip("\n") + "\n```"
    return text


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
    fed_back: bool = False


def _closeness(draft: Draft) -> tuple[float, bool]:
    """Fewest failing first; on a tie, a draft that changed some result before one that did not."""
    return draft.failing, draft.same_as_before


@dataclass
class RepairResult:
    resolved: bool = False
    summary: str = ""  # the resolving reply's explanation
    replies: int = 0
    drafts: list[Draft] = field(default_factory=list)  # the ones tried that did not pass

    def closest(self) -> Draft | None:
        return min(self.drafts, key=_closeness, default=None)


@dataclass
class RepairHost:
    """What the phase needs from the run: model turns, edits, tests, the tree."""

    chat: Callable[[list[Message], ChatOptions], ChatDone]  # no tools; usage counted, text shown
    write: Callable[[ToolCall], ToolOutcome]  # a write_code call, run and shown
    test: Callable[[str], dict[str, Any]]  # the whole suite on the tree as it is, shown
    set_aside: Callable[[], str]  # the tree back to the base commit; returns the diff removed
    version: Callable[[], str]  # a key of the tree's content (its diff from the base commit)
    seconds_left: Callable[[], float]  # of the phase's share
    step: Callable[[], None]  # a new step starts (each reply is one)
    notice: Callable[[str], None]


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

    def run(
        self, task: str, context: str, tests_output: str, baseline: dict[str, Any], instructions: str = ""
    ) -> RepairResult:
        result = RepairResult()
        opening = [
            Message.system(prompts.render("repair_system")),
            Message.user(
                prompts.render(
                    "repair_task",
                    task=task,
                    context=context,
                    tests=clip(tests_output, TESTS_CHARS),
                    language=self.language,
                    instructions=instructions,
                )
            ),
        ]
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
            conversation = self._next(opening, fresh, result)
        return result

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
        None in the list: that one made the tests pass (and it stays on the tree)."""
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
            if tests.get("ok"):
                drafts.append(None)
                return drafts
            diff = self.host.set_aside()
            failing = failing_count(tests, baseline)
            draft = Draft(number, reply, diff, tests, failing, same_result(baseline, tests))
            result.drafts.append(draft)
            drafts.append(draft)
            self.host.notice(
                f"draft {number}: {_count(failing)} failing"
                + (", as before any change" if draft.same_as_before else "")
            )
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
        """The next round's conversation: the closest draft not shown yet, with its tests, when
        this round brought any; else the first prompt again."""
        waiting = [d for d in result.drafts if not d.fed_back]
        if not fresh or not waiting:
            return opening
        draft = min(waiting, key=_closeness)
        draft.fed_back = True
        tests = clip(str(draft.tests.get("output", "")), TESTS_CHARS)
        again = prompts.render("repair_again", tests=tests, language=self.language)
        return [*opening, Message(role="assistant", content=draft.reply), Message.user(again)]


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
            and self.tools.code_writer is not None
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
        )

    def run_phase(self, task: str, context: str, instructions: str) -> bool:
        """Draft-and-test repair; True when a draft made the tests pass (the run is over)."""
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
                task, context, last_output(state.tests), baseline, instructions
            )
        except StopRun as stop:  # interrupted by the user
            self.run.stopped(stop)
            return True
        state.repair = result
        if result.resolved:
            state.summary = result.summary
            state.stop_reason = "finished"
            self.run.tick_plan(list(range(len(state.plan))))
            return True
        closest = result.closest()
        if closest is not None and closest.failing <= failing_count(baseline) and not closest.same_as_before:
            state.set_aside.append(SetAside(0, closest.diff, closest.tests))
        state.tests.last, state.tests.changed_since = state.tests.baseline, False
        self.run.notice(
            f"repair: {len(result.drafts)} drafts from {result.replies} replies, none passed; "
            "going on with tools",
        )
        return False

    def _host(self) -> RepairHost:
        return RepairHost(
            chat=self._chat,
            write=self._write,
            test=self._test,
            set_aside=self.worktree.set_aside,
            version=self.worktree.code_version,
            seconds_left=self._seconds_left,
            step=self._step,
            notice=self.run.notice,
        )

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
