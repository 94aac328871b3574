"""A second reproduction, held back from the repair: does the fix hold for the issue's other examples?

A fix can pass the one test it was drafted against and still leave the bug: on env-bool-false the
kept reproduction tested 'false' alone, the fix mapped 'false' and missed the 'no' and 'off' the
issue also names, and the run said `resolved`. So when the issue gives examples the kept test does
not check (example calls it does not make; with no example call, the quoted values it does not
use), the model writes one more test of those, judged as the first one was (it fails on the code
before any change, for the reason the issue states) and then taken off the tree: no repair prompt
shows it and no draft is written against it. It runs on a draft before the draft is taken, on the
change `finish` asks for, and on the tree the run leaves, for the verdict: a change it refutes is
told why, and reported `not_resolved`. Examples the issue says already work are not asked for
(`is_valid_email('ann@example.com')` already works): a test of them passes before any change; a
draft that passes before any change ends the drawing (the examples left out may all work).
Of the 30 reproductions the dev runs kept, 6 leave an example out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

import prompts
from agent.engines.base import ChatOptions
from agent.events import ChatDone, Notice, ToolStarted
from agent.loop.base import Tools
from agent.loop.drafted_tests import BLOCK_END, approximate_floats, test_code
from agent.loop.faithful import PASSES, TRIVIAL, Judgement, code_values, judge_run, subject_calls
from agent.loop.issue_examples import example_call_spans, makes_call
from agent.loop.state import Emit, LoopState, ReproBudget, finished
from agent.loop.suite_runs import clip
from agent.messages import Message, ToolCall
from agent.repo.journal import UndoError

OUTPUT_CHARS = 1500
MAX_SAID = 240  # characters of what the issue says of one example, in the prompt
_QUOTED = re.compile(r"'([^'\n]{1,60})'|\"([^\"\n]{1,60})\"")
_BACKTICKS = re.compile(r"`[^`\n]*`")
# what an issue says of an example that works as it should
_WORKS = re.compile(r"\b(?:already|works?|work fine|correct(?:ly)?|right)\b", re.I)
_SENTENCE_END = re.compile(r"[.;!?](?:\s|$)|\n")
_SAID_END = re.compile(r"[.!?](?:\s|$)|\n")  # a sentence's end (past a `;`: "...; both should give True")
# what an issue writes before a call that stands for a value, a result (`raises WeakPassword(...)`,
# `returns Saturday date(2024, 5, 4)`, `expected datetime(...)`), not an example to run
_AS_VALUE = re.compile(
    r"\b(?:raises?|returns?|gives?|is|are|be|becomes?|expected|expect|instead of|into)\s+(?:[A-Za-z]+\s+)?`?$"
)


class HeldBack(BaseModel):
    """A test of the issue's examples the kept reproduction does not check, kept off the tree."""

    path: str
    code: str
    tests: list[str]  # its failing node ids on the code before any change
    examples: list[str]  # the examples it was asked to check
    reason: str  # why it was judged faithful
    passed: bool | None = None  # on the tree the run leaves (None: not run on it)
    output: str = ""  # its last run that failed, clipped


class DraftHost(Protocol):
    """What drafting needs from the reproduction phase (reproduce.py `ReproHost`)."""

    @property
    def chat(self) -> Callable[[list[Message], ChatOptions], ChatDone]: ...

    @property
    def write(self) -> Callable[[str, str], str | None]: ...

    @property
    def test(self) -> Callable[[str], dict[str, Any]]: ...

    @property
    def set_aside(self) -> Callable[[], str]: ...

    @property
    def step(self) -> Callable[[], None]: ...

    @property
    def notice(self) -> Callable[[str], None]: ...


def left_out(issue: str, kept: str) -> list[str]:
    """The issue's examples the kept test's code `kept` does not check: its example calls that the
    test does not make, but for those the issue says already work and those written as a result
    (`raises WeakPassword('...')`); when the issue gives no example call, the values it quotes in
    its prose that the test does not use."""
    spans = example_call_spans(issue)
    if spans:
        subjects = set(subject_calls([call for call, _, _ in spans]))
        return list(
            dict.fromkeys(
                call
                for call, start, end in spans
                if call in subjects
                and not makes_call(kept, [call])
                and not _AS_VALUE.search(issue[max(0, start - 40) : start])
                and not _said_to_work(issue, end)
            )
        )
    used = code_values(kept)
    quoted = [a or b for a, b in _QUOTED.findall(_BACKTICKS.sub(" ", issue))]
    return list(dict.fromkeys(v for v in quoted if v not in used and v not in TRIVIAL))


def _said_to_work(issue: str, end: int) -> bool:
    """The sentence after the call at `end` says it works."""
    rest = issue[end:]
    stop = _SENTENCE_END.search(rest)
    return bool(_WORKS.search(rest[: stop.start() if stop else len(rest)]))


def said_of(issue: str, calls: list[str]) -> list[str]:
    """What the issue says of each of `calls` (normalised example calls): its words from the call
    to the end of the sentence (`index_of([1, 3, 5], 1)` is -1 too (expected 0))."""
    said: dict[str, str] = {}
    for call, start, end in example_call_spans(issue):
        if call in calls and call not in said:
            stop = _SAID_END.search(issue, end)
            start -= issue[start - 1 : start] == "`"  # from its opening backtick
            said[call] = issue[start : stop.start() + 1 if stop else len(issue)].strip()[:MAX_SAID]
    return [said.get(call, f"`{call}`") for call in calls]


def draw_held_back(
    host: DraftHost,
    budget: ReproBudget,
    seconds_left: Callable[[], float],
    conversation: list[Message],
    issue: str,
    kept: tuple[str, str],
) -> HeldBack | None:
    """Draft the held-back test, on from the conversation that kept the first one (`kept`: its path
    and code); each draft is written, run alone and taken off the tree again. None: nothing left
    out, no time, or no faithful draft."""
    kept_path, kept_code = kept
    examples = left_out(issue, kept_code)
    if not examples or budget.held_back_drafts < 1:
        return None
    path = kept_path.removesuffix(".py") + "_held_back.py"
    calls = bool(example_call_spans(issue))
    said = said_of(issue, examples) if calls else [", ".join(f"'{e}'" for e in examples)]
    ask = prompts.render("reproduce_held_back", path=path, calls=calls, examples=said)
    thread, tried = [*conversation, Message.user(ask)], {" ".join(kept_code.split())}
    for number in range(1, budget.held_back_drafts + 1):
        if seconds_left() < budget.min_seconds:
            break
        host.step()
        options = ChatOptions(
            tool_choice="none",
            max_tokens=budget.max_tokens,
            temperature=0.0 if number == 1 else budget.temperature,
            seed=number,
            stop=[BLOCK_END],
        )
        done = host.chat(thread, options)
        code = test_code(done.message.content, cut=done.finish_reason == "length")
        judgement, output = _judged(host, path, code, issue, examples, calls, tried)
        kept_or_not = "kept" if judgement.faithful else "refused"
        host.notice(f"held-back test draft {number}: {kept_or_not}: {judgement.reason}")
        if judgement.faithful and _fails_rounded(host, path, code):
            return HeldBack(
                path=path,
                code=approximate_floats(code),
                tests=judgement.failing,
                examples=examples,
                reason=judgement.reason,
            )
        if judgement.reason == PASSES:  # the examples left out may all work: none shows the bug
            break
        again = prompts.render("reproduce_again", reason=judgement.reason, output=clip(output, OUTPUT_CHARS))
        reply = Message(role="assistant", content=done.message.content)
        thread = [*thread, reply, Message.user(again)]
    return None


def _fails_rounded(host: DraftHost, path: str, code: str) -> bool:
    """The test, its floats compared up to rounding (what it will check a fix with), still fails
    on the code before any change."""
    rounded = approximate_floats(code)
    if rounded == code:
        return True
    if host.write(path, rounded) is not None:
        host.set_aside()
        return False
    data = host.test(path)
    host.set_aside()
    failed = not data.get("ok") and int(data.get("failed") or 0) > 0
    host.notice(f"held-back test with its floats compared up to rounding: {'fails' if failed else 'passes'}")
    return failed


def _judged(
    host: DraftHost, path: str, code: str, issue: str, examples: list[str], calls: bool, tried: set[str]
) -> tuple[Judgement, str]:
    """A held-back draft judged: it must check an example left out, and fail as the issue says.
    `tried`: the tests written before (the kept one first), as their words."""
    if not code:
        return Judgement(False, "the reply holds no test code", []), ""
    key = " ".join(code.split())
    if key in tried:
        return Judgement(False, "the same test as before: test the other examples", []), ""
    tried.add(key)
    uses = makes_call(code, examples) if calls else bool(set(examples) & code_values(code))
    if not uses:
        asked = ", ".join(examples[:3])
        return Judgement(False, f"it checks none of the examples asked for ({asked})", []), ""
    refused = host.write(path, code)
    if refused is not None:
        host.set_aside()
        return Judgement(False, f"the test file could not be written: {refused}", []), ""
    data = host.test(path)
    host.set_aside()  # off the tree, whatever the judgement
    return judge_run(data, code, issue), str(data.get("output", ""))


class HeldBackCheck:
    """Runs the held-back test on the tree as it is (written, run alone, taken off again)."""

    def __init__(self, tools: Tools, emit: Emit, held: HeldBack | None) -> None:
        self.tools = tools
        self.emit = emit
        self.held = held

    def missed(self) -> str:
        """Why the change on the tree does not hold for the held-back examples; "" when it does,
        or when there is no held-back test (or it could not run)."""
        held = self.held
        if held is None:
            return ""
        data = self._run(held)
        if data is None:
            return ""
        held.passed = bool(data.get("ok"))
        if held.passed:
            return ""
        held.output = clip(str(data.get("output", "")), OUTPUT_CHARS)
        failing = [str(t) for t in data.get("failing", [])] or [held.path]
        return (
            f"the held-back test of the issue's other examples ({', '.join(held.examples[:3])}) fails "
            f"on it: {', '.join(failing[:3])}"
        )

    def final(self) -> None:
        """The held-back test on the tree the run leaves, for the verdict (`HeldBack.passed`)."""
        if self.held is not None:
            self.held.passed = None
            self.missed()

    def _run(self, held: HeldBack) -> dict[str, Any] | None:
        write = ToolCall(id="held_back_write", name="create_file", arguments={})
        write = write.model_copy(update={"arguments": {"path": held.path, "content": held.code}})
        if self.tools.call(write).error is not None:  # a file of that name on the tree: not ours to touch
            return None
        call = ToolCall(id="held_back_tests", name="run_tests", arguments={})
        call = call.model_copy(update={"arguments": {"paths": [held.path]}})
        try:
            self.emit(ToolStarted(call=call))
            outcome = self.tools.call(call)
            self.emit(finished(call, outcome))
        finally:
            self._take_off()
        return {**outcome.result.data, "output": outcome.result.output}

    def _take_off(self) -> None:
        try:
            self.tools.undo_edits(1)
        except UndoError as exc:
            self.emit(Notice(level="warning", message=f"could not take the held-back test off: {exc}"))


def held_back_of(state: LoopState) -> HeldBack | None:
    """The run's held-back test, when the reproduction phase drew one."""
    return state.reproduction.held_back if state.reproduction is not None else None


def special_cased_source(held: HeldBack | None) -> str:
    """The held-back test's code, for the check of special-cased values ("" when there is none)."""
    return "" if held is None else "\n" + held.code
