"""Edit sampling, a wrapper around the loop's query: when a turn's reply is one file edit and
there are failing tests to measure it on, the edit is tried on the tree with the tests and taken
back; while it does not make them pass, other replies to the same turn are drawn (sampled, the
prompt's KV cache reused) and tried too, and the best of them is the turn's reply (`Trial`).

What it learns is kept across attempts (`DrawRecord`): edits that did no better on a version of
the code are not tried there again, draws that repeat them make the next replies hotter, and
lines where edit after edit changed nothing are closed to edits (`barred`, for the grammar).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import prompts
from agent.engines.base import ChatOptions
from agent.events import ChatDone
from agent.loop.base import Outcome, Tools
from agent.loop.checks import test_data, tests_only
from agent.loop.cosmetic import only_cosmetic
from agent.loop.set_elsewhere import changed_lines, set_elsewhere
from agent.loop.state import Run
from agent.loop.suite_runs import failing_count, ran_tests, same_result
from agent.messages import ToolCall
from agent.repo.journal import UndoError


@dataclass
class Trial:
    """An edit tried on the tree and its tests, before the loop settles on one (`edit_samples`)."""

    done: ChatDone
    failing: float
    tests: Outcome | None = None  # the run_tests on it; None: the edit did not apply (or only to tests)
    outcome: Outcome | None = None  # set while the edit is still on the tree (it could not be undone)
    edits: int = 0  # the file changes it made
    tests_only: bool = False  # all of them to test files
    cosmetic: bool = False  # comments and layout only: the code is as it was (tests not run)
    no_effect: bool = False  # every test's result is as it was before the edit
    tried: bool = False  # the code came out as a version an earlier attempt had tested
    repeated: bool = False  # the very edit was tried on this code before and did no better
    where: str = ""  # the file and line it changed, or why it did not apply, for the run's log
    # set when every edit tried for the turn changed no test result: none is applied, and this
    # is what the model reads instead of the chosen edit's result
    set_off: str = ""
    changed: dict[str, set[int]] = field(default_factory=dict)  # path -> the lines it changed

    def told(self) -> str:
        """How it fared, for the run's log."""
        if self.cosmetic:
            return "comments only"
        if self.repeated:
            return "tried on this code before, not again"
        count = "no count" if self.failing == float("inf") else f"{int(self.failing)} failing"
        if self.tried:
            return f"{count}, as an earlier attempt had it"
        return f"{count}, no test result changed" if self.no_effect else count

    def rank(self, before: float) -> tuple[float, bool]:
        """Lower is better. An edit that changed no test's result goes nowhere, and one that
        makes the code as an earlier attempt had it goes where that attempt went (the 1.5B model
        copied the set-aside attempt's diff from its prompt, draw after draw): an edit that
        leaves as many failing as `before` and changed something ranks above them; one that
        makes more fail ranks below."""
        if self.no_effect or self.tried or self.repeated:
            return before + 0.5, False
        return self.failing, self.cosmetic


ELIDED = "elided to fit the context window; call the tool again if you need them]"


class EditSampler:
    """Edit sampling in one run; `barred` and `heated` are what the loop's turns take from it."""

    def __init__(
        self,
        run: Run,
        tools: Tools,
        version: Callable[[], str],
        query: Callable[[ChatOptions], ChatDone],
        samples: bool,
    ) -> None:
        """`version`: a key of the code as it is; `query`: another reply to the conversation so
        far; `samples`: the engine's draws can differ (a replay's cannot: no sampling)."""
        self.run = run
        self.tools = tools
        self.version = version
        self.query = query
        self.samples = samples

    def wanted(self, done: ChatDone) -> bool:
        """The reply is one file edit, and there are failing tests it can be measured on."""
        calls = done.message.tool_calls
        budgets, baseline = self.run.budgets, self.run.state.tests.baseline
        return (
            budgets.loop.edit_samples > 1
            and self.samples
            and budgets.loop.test_after_edit
            and baseline is not None
            and ran_tests(baseline)
            and not baseline.get("ok")
            and done.finish_reason != "interrupted"
            and len(calls) == 1
            and self.tools.kind(calls[0].name) == "edit"
            and calls[0].parse_error is None
        )

    def sample(self, options: ChatOptions, done: ChatDone, seconds: float) -> Trial:
        """Try the turn's edit on the tree with the tests; while it does not make them pass, draw
        other replies to the same turn (with `options`, sampled; `seconds`: a turn takes) and try
        those. The tree is left as it was; the trial with the fewest failing tests is the turn's
        reply (or, `set_off`, none of them)."""
        state = self.run.state
        before = failing_count(state.tests.now(), state.tests.baseline)
        version = self.version()
        fruitless = state.draws.fruitless.setdefault(version, set())
        trials: list[Trial] = []
        reply: ChatDone | None = done
        while reply is not None:
            self._add(trials, reply, fruitless, before)
            reply, seconds = self._draw(trials, options, seconds)
        return self._choose(trials, before, version)

    def _add(
        self, trials: list[Trial], reply: ChatDone, fruitless: set[tuple[str, str]], before: float
    ) -> None:
        """Try `reply` (a drawn reply that is not one edit is no candidate)."""
        if trials and not self.wanted(reply):
            calls = ", ".join(c.name for c in reply.message.tool_calls) or "no call"
            trials.append(Trial(done=reply, failing=float("inf"), where=f"not one edit: {calls}"))
            return
        again = _edit_pair(reply) in _edit_pairs(trials)  # the same as an earlier draw
        trials.append(self._trial(reply, fruitless))
        self._note_fruitless(fruitless, trials[-1], before)
        self.run.state.draws.heat += int(trials[-1].repeated or again)

    def _draw(
        self, trials: list[Trial], options: ChatOptions, seconds: float
    ) -> tuple[ChatDone | None, float]:
        """Another reply to the turn, while none made the tests pass and there is room for it
        (None: no more); and how long a turn takes, with this one."""
        budgets, state = self.run.budgets, self.run.state
        if len(trials) >= budgets.loop.edit_samples or trials[-1].outcome is not None or trials[0].tests_only:
            return None, seconds
        if any(t.tests is not None and t.tests.result.data.get("ok") for t in trials):
            return None, seconds
        if self.run.time_left() < 2 * seconds:  # a draw and the turn after it must still fit
            return None, seconds
        sample = len(trials) + 1
        where = f" ({trials[-1].where})" if trials[-1].where else ""
        drawn = options.model_copy(
            update={
                "temperature": budgets.unstick_temperature,
                "seed": 1000 * state.steps + sample,
                **self.heated(),
            }
        )
        hotter = f", temperature {drawn.temperature:.1f}" if state.draws.heat else ""
        self.run.notice(
            f"edit {len(trials)} of this turn{where}: {trials[-1].told()}; "
            f"drawing another ({sample} of {budgets.loop.edit_samples}{hotter})",
        )
        began = time.monotonic()
        reply = self.query(drawn)
        return reply, max(seconds, time.monotonic() - began)

    def _choose(self, trials: list[Trial], before: float, version: str) -> Trial:
        """The trial that goes on: one whose edit stayed on the tree, else the best ranked (the
        earliest on a tie); `set_off` when applying it would only leave a change that does nothing."""
        held = next((t for t in trials if t.outcome is not None), None)
        chosen = held or min(trials, key=lambda t: t.rank(before))
        if sets_off(trials, chosen):
            barred = self._note_idle_lines(version, trials)
            chosen.set_off = self._set_off_text(trials, barred, passing=before == 0)
        else:
            self.run.state.draws.heat = 0
        if len(trials) > 1 or chosen.set_off:
            counts = ", ".join(t.told() for t in trials)
            going = "applying none" if chosen.set_off else f"going on with edit {trials.index(chosen) + 1}"
            self.run.notice(f"tried {len(trials)} edits for this turn (tests: {counts}); {going}")
        return chosen

    def heated(self) -> dict[str, float]:
        """Sampling for a reply after `heat` draws that repeated tried edits (`draw_heat`)."""
        heat, budgets = self.run.state.draws.heat, self.run.budgets
        if not heat:
            return {}
        heated = budgets.unstick_temperature + budgets.draw_heat * heat
        return {
            "temperature": min(budgets.max_draw_temperature, heated),
            "min_p": budgets.draw_min_p / 2 ** min(heat, 3),
        }

    @staticmethod
    def _note_fruitless(fruitless: set[tuple[str, str]], trial: Trial, before: float) -> None:
        """Keep a tried edit_file call that did no better on the code it was tried on: it did not
        apply, changed comments only or no test's result, or made more tests fail. One that
        changed a result and left as many failing may be a first step: it stays open."""
        pair = _edit_pair(trial.done)
        if pair is None or trial.outcome is not None or trial.tests_only:
            return
        if trial.tests is None or trial.no_effect or trial.failing > before:
            fruitless.add(pair)

    def _note_idle_lines(self, version: str, trials: list[Trial]) -> dict[str, set[int]]:
        """Count a set-off turn on the lines its edits changed to no effect (or would have: a
        repeated edit's old text); the lines this turn closes to edits (`bar_after_set_offs`)."""
        bar = self.run.budgets.bar_after_set_offs
        if not bar:
            return {}
        touched: dict[str, set[int]] = {}
        for trial in trials:
            if trial.no_effect or trial.cosmetic:
                for path, lines in trial.changed.items():
                    touched.setdefault(path, set()).update(lines)
            elif trial.repeated and (span := self._old_text_lines(trial.done.message.tool_calls[0])):
                touched.setdefault(span[0], set()).update(span[1])
        counts = self.run.state.draws.idle_lines.setdefault(version, {})
        closed: dict[str, set[int]] = {}
        for path, lines in touched.items():
            per_line = counts.setdefault(path, {})
            for line in lines:
                per_line[line] = per_line.get(line, 0) + 1
                if per_line[line] == bar:
                    closed.setdefault(path, set()).add(line)
        return closed

    def barred(self) -> dict[str, set[int]]:
        """The lines closed to edits on the code as it is now (`bar_after_set_offs`)."""
        idle_lines, least = self.run.state.draws.idle_lines, self.run.budgets.bar_after_set_offs
        if not idle_lines or not least:
            return {}
        counts = idle_lines.get(self.version(), {})
        barred = {path: {n for n, turns in lines.items() if turns >= least} for path, lines in counts.items()}
        return {path: lines for path, lines in barred.items() if lines}

    def _set_off_text(
        self, trials: list[Trial], barred: dict[str, set[int]] | None = None, passing: bool = False
    ) -> str:
        """What the model reads for a turn none of whose edits is applied (`sets_off`): where
        they were, what the lines they changed use that is set where none of them went, and the
        lines this turn closed to edits. `passing`: the tests pass already (none did better)."""
        if passing:
            return prompts.render("edits_set_off_passing", tried=len(trials))
        applied = [t for t in trials if t.tests is not None or t.repeated]
        places = list(dict.fromkeys(t.where for t in applied if t.where))
        changed: dict[str, set[int]] = {}
        for trial in trials:
            for path, lines in trial.changed.items():
                changed.setdefault(path, set()).update(lines)
        elsewhere: list[str] = []
        for path, lines in changed.items():
            try:
                source = (self.tools.ctx.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            elsewhere += [f"{path} line {line}: `{text}`" for line, text in set_elsewhere(source, lines)]
        return prompts.render(
            "edits_set_off",
            tried=len(trials),
            repeated=sum(t.repeated for t in trials),
            places="; ".join(places) or "one place",
            elsewhere=elsewhere,
            closed=[f"{path} {_line_numbers(lines)}" for path, lines in (barred or {}).items()],
            turns=self.run.budgets.bar_after_set_offs,
        )

    def _trial(self, done: ChatDone, fruitless: set[tuple[str, str]]) -> Trial:
        """Apply the reply's edit, run the tests the model last chose on it, and undo it. One of
        the `fruitless` edits, tried on this code before, is not tried again: it would do the same."""
        call = done.message.tool_calls[0]
        if _edit_pair(done) in fruitless:
            return Trial(done=done, failing=float("inf"), repeated=True, where=self._place(call))
        state = self.run.state
        before = state.tests.now()
        pending = self.tools.edit_count()
        outcome = self.tools.call(call)
        edits = self.tools.edit_count() - pending
        if outcome.error is not None or edits < 1:
            return Trial(done=done, failing=float("inf"), where=_why_not(outcome))
        trial = Trial(
            done=done,
            failing=float("inf"),
            edits=edits,
            tests_only=tests_only(self.tools.last_edits(edits)),
            where=_where(outcome),
        )
        trial.cosmetic = only_cosmetic(self.tools.last_edits(edits))
        for record in self.tools.last_edits(edits):
            if record.before is not None and record.after is not None:
                trial.changed.setdefault(record.path, set()).update(
                    changed_lines(record.before, record.after)
                )
        if not (trial.tests_only or trial.cosmetic):  # a new test fails by design: nothing to compare
            run = ToolCall(id="trial_tests", name="run_tests", arguments=dict(state.tests.args))
            trial.tests = self.tools.call(run)
            ran = test_data(trial.tests)
            trial.failing = failing_count(ran, state.tests.baseline)
            trial.no_effect = same_result(before, ran)
            trial.tried = state.tests.first_tested(self.version(), state.attempt) < state.attempt
        try:
            self.tools.undo_edits(edits)
        except UndoError as exc:  # changed behind the journal's back: this edit stays and goes on
            self.run.notice(f"could not take back a trial edit: {exc}; keeping it", "warning")
            trial.outcome = outcome
        return trial

    def _place(self, call: ToolCall) -> str:
        """Where an edit_file call's old_text is in its file now, as "path line N" (or the path)."""
        span = self._old_text_lines(call)
        return f"{span[0]} line {min(span[1])}" if span else str(call.arguments.get("path", ""))

    def _old_text_lines(self, call: ToolCall) -> tuple[str, set[int]] | None:
        """The file and 1-based lines an edit_file call's old_text covers in the file as it is
        (None: no such file in the repository, or the text is not in it)."""
        path, old = str(call.arguments.get("path", "")), str(call.arguments.get("old_text", "")).strip()
        root = self.tools.ctx.root
        target = (root / path).resolve()
        try:
            if not target.is_relative_to(root.resolve()):
                return None
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        at = text.find(old) if old else -1
        if at == -1:
            return None
        first = text.count("\n", 0, at) + 1
        return path, set(range(first, first + old.count("\n") + 1))


def sets_off(trials: list[Trial], chosen: Trial) -> bool:
    """The best of the turn's edits is one that changed no test result (or made the code as an
    earlier attempt had it), among two or more that ran the tests: applying it would only leave
    a change that does nothing on the tree, and a turn on it."""
    if chosen.repeated:  # known to do no better: never applied
        return True
    ran = sum(t.tests is not None for t in trials)
    return (chosen.no_effect or chosen.tried) and chosen.outcome is None and ran >= 2


def _edit_pair(done: ChatDone) -> tuple[str, str] | None:
    """A reply's edit_file call as (old_text, new_text), whitespace at either end dropped (the
    edit tool matches past it); None for any other reply."""
    calls = done.message.tool_calls
    if len(calls) != 1 or calls[0].name != "edit_file":
        return None
    old, new = calls[0].arguments.get("old_text"), calls[0].arguments.get("new_text")
    return (old.strip(), new.strip()) if isinstance(old, str) and isinstance(new, str) else None


def _line_numbers(lines: set[int]) -> str:
    """`{3, 4, 5, 9}` as "lines 3-5, 9"."""
    runs: list[list[int]] = []
    for line in sorted(lines):
        if runs and line == runs[-1][-1] + 1:
            runs[-1].append(line)
        else:
            runs.append([line])
    spans = [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs]
    return ("line " if len(lines) == 1 else "lines ") + ", ".join(spans)


def _edit_pairs(trials: list[Trial]) -> set[tuple[str, str]]:
    """The edit_file calls of `trials` as `_edit_pair`s."""
    return {pair for trial in trials if (pair := _edit_pair(trial.done)) is not None}


def _where(outcome: Outcome) -> str:
    """The file and line an edit changed, from its result."""
    data = outcome.result.data
    path, line = data.get("path"), data.get("line")
    return f"{path} line {line}" if path and line else str(path or "")


def _why_not(outcome: Outcome) -> str:
    """Why an edit did not apply, from its result's first line."""
    if outcome.error is None:
        return "changed no file"
    first = outcome.result.output.strip().splitlines()[0] if outcome.result.output.strip() else ""
    first = first.removeprefix("error: ")
    return first if len(first) <= 90 else first[:87] + "..."
