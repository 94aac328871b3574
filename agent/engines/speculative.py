"""Token generation with speculative drafts, verified exactly, on llama-cpp-python's low-level API.

`Llama.generate` evaluates one token per step. Here each step evaluates the token just sampled
together with a draft of the tokens likely to follow it (agent/engines/ngram_draft.py) in one
batch, asking logits for those positions only. The draft is then verified position by position
with the same sampler chain `Llama.generate` builds (the logits processors, a GBNF grammar,
top-k/top-p/min-p, temperature, the seeded draw or greedy): a drafted token is kept only while
the sampler, run on that position's logits, produces exactly it; the first token it produces
otherwise is kept in its place and the rest of the draft is dropped from the KV cache. Every token
emitted is thus one the sampler drew, in order, with one draw per token, so the output follows the
model's distribution and, with a seed, is the same draw as without drafts. Stateful processors
(the llguidance matcher, the unchanged-edit guard) read `Llama._input_ids`, whose length is set
to the position being sampled, so they see exactly the accepted tokens in order.

The `Llama` object's bookkeeping (`n_tokens`, `input_ids`, `_requires_eval`) is left as
`Llama.generate` would leave it after yielding the same tokens, so the engine's prefix reuse and
the prompt cache work unchanged (llama-cpp-python's own `draft_model` path needs
`logits_all=True`, a scores array of n_ctx x n_vocab floats, and shows processors the draft).

A batch's logits are computed by llama.cpp's batched kernels, which round differently from the
one-token path (the gap between the two best tokens moves by 0.2 on average, up to about one
logit). Sampled output keeps its distribution either way; greedy output would flip wherever the
two best tokens are that close, so under greedy decoding such a position is decided on a
one-token step, as decoding without drafts decides it (`Sampling.tie_margin`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.engines.base import DeadlineReached
from agent.engines.token_reuse import common_prefix

# Logits: batched and one-token evaluation round differently by up to about this much between the
# two best tokens (measured on the 270M and 1.5B models: mean 0.19, 99th percentile 0.66, max 1.0)
TIE_MARGIN = 1.0


class Drafter(Protocol):
    def extend(self, tokens: Sequence[int]) -> None:
        """The model kept these tokens (the drafter's context grows by them)."""

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that may come next."""

    def feedback(self, drafted: int, accepted: int) -> None:
        """How many of the last draft's tokens the model kept."""


@dataclass
class DraftCounts:
    """A generation's drafting: tokens proposed, tokens the sampler kept, verification batches."""

    drafted: int = 0
    accepted: int = 0
    batches: int = 0
    ties: int = 0  # greedy near-ties decided on a one-token step instead (see `Sampling.tie_margin`)


@dataclass(frozen=True)
class Sampling:
    """`Llama.generate`'s sampling arguments, for `Llama._init_sampler`."""

    temperature: float
    top_k: int
    top_p: float
    min_p: float
    repeat_penalty: float = 1.0
    logits_processor: Sequence[Any] = ()
    grammar: Any = None
    # greedy only: a drafted position whose two best logits are closer than this is evaluated
    # again as a one-token step, whose rounding is that of decoding without drafts
    tie_margin: float = TIE_MARGIN

    def sampler(self, llama: Any) -> Any:
        return llama._init_sampler(
            temp=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            logits_processor=list(self.logits_processor) or None,
            grammar=self.grammar,
        )


def start(llama: Any, tokens: Sequence[int]) -> list[int]:
    """Keep the KV cache of the longest prefix `tokens` share with it; the tokens left to evaluate.

    The rule is `Llama.generate`'s: a prompt the cache holds whole is sampled from at once if its
    last logits are live, else its last token is evaluated again.
    """
    tokens = list(tokens)
    if llama.n_tokens > 0:
        common = common_prefix(llama._input_ids.tolist(), tokens)
        if common == len(tokens) == llama.n_tokens and not llama._requires_eval:
            return []
        keep = common - 1 if common == len(tokens) else common
        if keep > 0 and llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            llama.n_tokens = keep
            llama._requires_eval = True
            return tokens[keep:]
    llama.reset()
    return tokens


def prefill(llama: Any, pending: Sequence[int], stop: Callable[[], bool] | None = None) -> Iterator[int]:
    """Evaluate the prompt's tokens left (logits of the last one only), a batch at a time, asking
    `stop` before each: a long prompt on a slow CPU can outlast the run's time budget. Yields the
    count of tokens evaluated so far after each batch (the engine reports it as it goes)."""
    size = max(1, int(llama.n_batch))
    for begin in range(0, len(pending), size):
        if stop is not None and stop():
            raise DeadlineReached()
        llama.eval(pending[begin : begin + size])
        yield min(begin + size, len(pending))


def evaluate_batch(llama: Any, batch: Sequence[int]) -> None:
    """Evaluate `batch` after the cached tokens, with logits for each of its positions."""
    base = llama.n_tokens
    llama._ctx.kv_cache_seq_rm(-1, base, -1)
    llama._batch.set_batch(batch=batch, n_past=base, logits_all=True)
    llama._ctx.decode(llama._batch)
    llama.input_ids[base : base + len(batch)] = batch
    llama.n_tokens = base + len(batch)
    llama._requires_eval = False


@dataclass
class _Progress:
    """Where a generation stands: what it emitted, where the last evaluated batch ended."""

    drafter: Drafter | None
    prompt_length: int
    evaluated: int
    emitted: int = 0

    def keep(self, token: int) -> None:
        self.emitted += 1
        if self.drafter is not None:
            self.drafter.extend([token])


def generate(
    llama: Any,
    tokens: Sequence[int],
    sampling: Sampling,
    drafter: Drafter | None = None,
    counts: DraftCounts | None = None,
    max_draft: int = 16,
    max_new: int | None = None,
    stop: Callable[[], bool] | None = None,
    prefilled: bool = False,
) -> Generator[int, None, None]:
    """Yield sampled tokens after `tokens`, like `Llama.generate`; the caller stops it (EOS, limits).

    `max_new`: the most tokens the caller will take (no draft reaches beyond it). `stop`: asked
    between prefill batches and before each step; True raises `DeadlineReached`. `prefilled`: the
    caller has already run `start` and `prefill` on `tokens` (to report the prefill's progress).
    """
    counts = counts if counts is not None else DraftCounts()
    sampler = sampling.sampler(llama)
    tie_margin = sampling.tie_margin if sampling.temperature <= 0 else 0.0
    if not prefilled:
        for _ in prefill(llama, start(llama, tokens), stop):
            pass
    progress = _Progress(drafter, llama.n_tokens, llama.n_tokens)
    try:
        token = sampler.sample(llama._ctx, -1)
        while True:
            progress.keep(token)
            yield token
            if stop is not None and stop():
                raise DeadlineReached()
            room = min(max_draft, llama.n_ctx() - llama.n_tokens - 1)
            if max_new is not None:
                room = min(room, max_new - progress.emitted - 1)
            draft = drafter.draft(room) if drafter is not None and room > 0 else []
            counts.drafted += len(draft)
            counts.batches += bool(draft)
            before = counts.accepted
            token = yield from _verify(llama, sampler, [token, *draft], tie_margin, counts, progress)
            if drafter is not None:
                drafter.feedback(len(draft), counts.accepted - before)
    finally:
        _settle(llama, progress.prompt_length + max(progress.emitted - 1, 0), progress.evaluated)


def _verify(
    llama: Any, sampler: Any, batch: list[int], tie_margin: float, counts: DraftCounts, progress: _Progress
) -> Generator[int, None, int]:
    """Evaluate the last token and its draft in one batch; yield the drafted tokens the sampler
    produces too, and return the first token it produces otherwise (or the one after the draft)."""
    base = llama.n_tokens
    evaluate_batch(llama, batch)
    progress.evaluated = llama.n_tokens
    draft = batch[1:]
    for at in range(len(batch)):
        if draft and tie_margin and _near_tie(llama, at, tie_margin):
            counts.ties += 1  # greedy on a near tie: decided on the logits a one-token step computes
            llama.n_tokens = base + at
            evaluate_batch(llama, [batch[at]])
            progress.evaluated = llama.n_tokens
            return int(sampler.sample(llama._ctx, 0))
        llama.n_tokens = base + at + 1  # what the processors see: the context through this position
        token = int(sampler.sample(llama._ctx, at))
        if at == len(draft) or token != draft[at]:
            if llama.n_tokens < progress.evaluated:
                llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
            return token
        counts.accepted += 1
        progress.keep(token)
        yield token
    raise AssertionError("unreachable: the last position always returns")


def _near_tie(llama: Any, at: int, margin: float) -> bool:
    """The two best raw logits at batch position `at` are closer than `margin`."""
    import numpy as np

    row = np.ctypeslib.as_array(llama._ctx.get_logits_ith(at), shape=(llama._n_vocab,))
    second, first = np.partition(row, -2)[-2:]
    return bool(first - second < margin)


def _settle(llama: Any, keep: int, evaluated: int) -> None:
    """Leave the cache as `Llama.generate` would after the same tokens: the last one not evaluated."""
    if llama.n_tokens > keep:
        llama.n_tokens = keep
    if llama.n_tokens < evaluated:
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        llama._requires_eval = True  # the last logits are not those of the last kept token
