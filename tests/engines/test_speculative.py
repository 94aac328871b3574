"""Speculative decoding on the real models: the same output as without drafts, constraints and guards
kept, processors shown exactly the accepted tokens, the KV cache left as `Llama.generate` leaves it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from agent.engines.base import ChatOptions, final
from agent.engines.llama_load import load_llama
from agent.engines.llamacpp import BUDGET_STOPS, LlamaCppEngine
from agent.engines.ngram_draft import NgramSettings, PromptLookup
from agent.engines.speculative import TIE_MARGIN, DraftCounts, Sampling, generate
from agent.engines.unchanged_edit import UnchangedEditGuard, closing_cuts
from agent.events import UsageEvent
from agent.messages import Message, ToolSpec

pytestmark = pytest.mark.model

CODE = '''def moving_average(values, window):
    """The mean of each run of `window` values, in order."""
    if window <= 0:
        raise ValueError("window must be positive")
    averages = []
    total = sum(values[:window])
    averages.append(total / window)
    for i in range(window, len(values)):
        total += values[i] - values[i - window]
        averages.append(total / window)
    return averages
'''
COPY = (
    f"Here is a function:\n```python\n{CODE}```\nWrite the same function again, unchanged, in one code block."
)
PROMPTS = [
    [Message.user(COPY)],
    [Message.user("Write a haiku about the sea.")],
    [Message.system("You are a terse assistant."), Message.user("List three uses of a paperclip.")],
]
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
        "properties": {"path": {"type": "string"}, "start_line": {"type": "integer", "minimum": 1}},
        "required": ["path"],
    },
)
SCHEMAS = {t.name: t.parameters for t in (EDIT, READ)}


@pytest.fixture(scope="module")
def gemma(gemma_path: Path) -> Any:
    return load_llama(gemma_path, n_ctx=4096)


@pytest.fixture(scope="module")
def qwen05() -> Any:
    from agent.models import pull

    return load_llama(pull("qwen2.5-coder-0.5b", use_hub=False), n_ctx=4096)


def _tokens(
    llama: Any, prompt: list[int], drafter: Any, n: int, counts: DraftCounts | None = None
) -> list[int]:
    llama.reset()
    out: list[int] = []
    for token in generate(llama, prompt, Sampling(0.0, 40, 0.95, 0.05), drafter, counts, 16, n):
        out.append(token)
        if len(out) == n:
            break
    return out


def _gap(llama: Any, context: list[int], a: int, b: int) -> float:
    """How far apart the logits of tokens `a` and `b` are after `context` (evaluated afresh)."""
    llama.reset()
    llama.eval(context)
    row = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama._n_vocab,))
    return float(abs(row[a] - row[b]))


@pytest.mark.parametrize("model", ["gemma", "qwen05"])
def test_greedy_output_is_the_same_with_and_without_drafts(
    model: str, request: pytest.FixtureRequest
) -> None:
    """Token for token; where the two runs part, it is at a tie within llama.cpp's rounding of a
    batch against a one-token step (the KV cache of drafted tokens is computed in batches)."""
    llama = request.getfixturevalue(model)
    engine = LlamaCppEngine(llama, model)
    accepted = 0
    for messages in PROMPTS:
        prompt = engine._prompt_tokens(engine._render_text(messages, []))
        counts = DraftCounts()
        without = _tokens(llama, prompt, None, 160)
        with_drafts = _tokens(llama, prompt, PromptLookup(NgramSettings(), prompt), 160, counts)
        accepted += counts.accepted
        if with_drafts != without:
            at = next(i for i, (x, y) in enumerate(zip(without, with_drafts, strict=False)) if x != y)
            assert _gap(llama, prompt + without[:at], without[at], with_drafts[at]) < TIE_MARGIN, at
    assert accepted >= 40  # the copy was drafted and kept


def test_the_engine_reports_what_it_drafted_and_kept(gemma: Any) -> None:
    engine = LlamaCppEngine(gemma, "gemma", speculative=True)
    gemma.reset()
    events = list(engine.chat(PROMPTS[0], [], ChatOptions(max_tokens=120)))
    usage = next(e.usage for e in events if isinstance(e, UsageEvent))
    assert usage.accepted_tokens >= 20
    assert usage.drafted_tokens >= usage.accepted_tokens
    assert final(iter(events)).usage == usage


class Recorder:
    """A logits processor that masks one token and records the context it is shown at each step."""

    def __init__(self, banned: int) -> None:
        self.banned = banned
        self.seen: list[list[int]] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.seen.append([int(t) for t in input_ids])
        scores[self.banned] = -np.inf
        return scores


class Insistent:
    """A drafter that proposes the banned token first, then the prompt lookup's draft."""

    def __init__(self, banned: int, context: Sequence[int]) -> None:
        self.banned = banned
        self.lookup = PromptLookup(NgramSettings(min_match=2, max_draft=8), context)

    def extend(self, tokens: Sequence[int]) -> None:
        self.lookup.extend(tokens)

    def draft(self, limit: int) -> list[int]:
        return [self.banned, *self.lookup.draft(limit - 1)][:limit]

    def feedback(self, drafted: int, accepted: int) -> None:
        self.lookup.feedback(drafted, accepted)


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_a_masked_token_is_never_emitted_even_when_drafted(gemma: Any, temperature: float) -> None:
    prompt = list(gemma.tokenize(("one two three four " * 12).encode(), add_bos=True))
    banned = prompt[-1]  # the token the text would go on with
    recorder = Recorder(banned)
    counts = DraftCounts()
    sampling = Sampling(temperature, 40, 0.95, 0.05, logits_processor=[recorder])
    gemma.set_seed(3)
    out: list[int] = []
    for token in generate(gemma, prompt, sampling, Insistent(banned, prompt), counts, 8, 48):
        out.append(token)
        if len(out) == 48:
            break
    assert banned not in out
    assert counts.drafted > len(out) // 2 and counts.batches > 0
    # the processor saw the prompt and then exactly the tokens emitted, one more each step, in order
    assert [len(s) for s in recorder.seen] == list(range(len(prompt), len(prompt) + len(out)))
    assert recorder.seen[-1] == prompt + out[:-1]


def test_the_cache_is_left_as_generate_leaves_it(gemma: Any) -> None:
    prompt = list(gemma.tokenize((CODE + "\n\n" + CODE[:90]).encode(), add_bos=True))  # it copies on
    sampling = Sampling(0.0, 40, 0.95, 0.05)
    for drafter in (None, PromptLookup(NgramSettings(), prompt)):
        gemma.reset()
        counts = DraftCounts()
        out: list[int] = []
        for token in generate(gemma, prompt, sampling, drafter, counts, 16):
            out.append(token)
            if len(out) == 21:
                break
        assert gemma.n_tokens == len(prompt) + len(out) - 1  # the last token yielded is not evaluated
        assert gemma._input_ids.tolist() == prompt + out[:-1]
        if drafter is not None:
            assert counts.accepted > 0
    reference = [t for t, _ in zip(gemma.generate(prompt + out, temp=0.0), range(8), strict=False)]
    after = [t for t, _ in zip(generate(gemma, prompt + out, sampling), range(8), strict=False)]
    assert after == reference


def test_the_next_turn_prefills_as_much_as_without_drafts(gemma: Any) -> None:
    counts = []
    for speculative in (False, True):
        engine = LlamaCppEngine(gemma, "gemma", speculative=speculative)
        gemma.reset()
        messages = [Message.user(COPY)]
        first = final(engine.chat(messages, [], ChatOptions(max_tokens=90)))
        messages += [first.message, Message.user("Now write it once more.")]
        second = final(engine.chat(messages, [], ChatOptions(max_tokens=90)))
        counts.append((first.message.content, second.usage.prefilled_tokens, second.usage.cached_tokens))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("llguidance", [True, False])
def test_constrained_calls_validate_with_drafts(gemma: Any, llguidance: bool) -> None:
    engine = LlamaCppEngine(gemma, "gemma", speculative=True)
    engine.use_llguidance = llguidance
    gemma.reset()
    messages = [
        Message.system("You edit files with tools."),
        Message.user(f"In stats.py, rename `averages` to `means` in this function:\n{CODE}"),
    ]
    drafted = 0
    for tools in ([EDIT], [READ, EDIT]):
        events = list(engine.chat(messages, tools, ChatOptions(tool_choice="required", max_tokens=200)))
        done = final(iter(events))
        usage = next(e.usage for e in events if isinstance(e, UsageEvent))
        drafted += usage.drafted_tokens
        assert done.message.tool_calls
        for call in done.message.tool_calls:
            if call.parse_error and call.parse_error.startswith(BUDGET_STOPS):
                continue
            assert call.parse_error is None, call.parse_error
            jsonschema.validate(call.arguments, SCHEMAS[call.name])
    assert drafted > 0


def test_the_unchanged_edit_guard_holds_against_a_drafted_copy(qwen05: Any) -> None:
    """The call copies old_text into new_text, drafted from the prompt: the guard still refuses to
    close new_text on old_text, whatever the drafts propose."""
    model = qwen05._model
    pieces = [(t, model.token_to_piece(t, special=True).rstrip(b"\0")) for t in range(int(qwen05.n_vocab()))]
    guard = UnchangedEditGuard(closing_cuts(pieces), lambda t: bytes(model.detokenize([t], special=True)))
    old = "    return s[len(s) // 2]\n"
    head = json.dumps({"path": "stats.py", "old_text": old, "new_text": ""})
    ask = "<|im_start|>user\nCopy old_text into new_text exactly.<|im_end|>\n<|im_start|>assistant\n"
    opening = list(qwen05.tokenize(ask.encode(), add_bos=False, special=True))
    call = head[: head.rindex('"new_text": "') + len('"new_text": "')]
    prompt = opening + list(qwen05.tokenize(call.encode(), add_bos=False, special=True))
    guard(np.array(opening), np.zeros(int(qwen05.n_vocab()), dtype=np.float32))  # the call starts here
    counts = DraftCounts()
    sampling = Sampling(0.0, 40, 0.95, 0.05, logits_processor=[guard])
    drafter = PromptLookup(NgramSettings(min_match=1, max_draft=16), prompt)
    out: list[int] = []
    for token in generate(qwen05, prompt, sampling, drafter, counts, 16, 40):
        out.append(token)
        if len(out) == 40:
            break
    written = qwen05.detokenize(out).decode("utf-8", errors="replace")
    assert counts.accepted > 0  # the copy was drafted and kept up to the quote
    assert guard.blocked > 0
    assert not written.startswith(json.dumps(old)[1:-1] + '"')
