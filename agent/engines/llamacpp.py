"""The embedded engine: llama-cpp-python with the model resident for the whole session.

Prompts are rendered with the model's own chat template and tokenized here, so llama.cpp's
prefix reuse (`Llama.generate` keeps the KV cache of the longest common token prefix) applies
every turn. Tool calls use lazy constrained decoding in the model's own wire format: text (and
reasoning) is generated freely, at full speed, until the model opens a call (or, when a call is
required, until its short reasoning ends); only the call itself is generated under a grammar
derived from the tools' schemas, so it is always well formed. The text before a call and the call
are put in the template's canonical form first, so the next turn's prompt extends this one's.
After a call the model may open another one or end its turn.
"""

from __future__ import annotations

import codecs
import time
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from typing import Any

from agent.engines.base import ChatOptions, DeadlineReached, EngineError
from agent.engines.chat_template import ChatTemplate, ChatTemplateError
from agent.engines.constrain import ConstraintError, GrammarProcessor, TokenMasker, llguidance_available
from agent.engines.continuation import continuation
from agent.engines.ngram_draft import NgramSettings, PromptLookup
from agent.engines.prefix_cache import MIN_TOKENS, PrefixCache
from agent.engines.repetition import repeating_period
from agent.engines.reply_text import deltas, opens_thinking, said_a_line
from agent.engines.speculation_settings import ngram_settings
from agent.engines.speculative import Sampling, generate, prefill, start
from agent.engines.token_reuse import common_prefix, reuse_cached_tokens
from agent.engines.turn import THINKING_BUDGET, CallPolicy, Pass, ThinkingEffort, Turn, thinking_variables
from agent.engines.unchanged_edit import UnchangedEditGuard
from agent.engines.vocabulary import VocabularyTables
from agent.events import ChatDone, EngineEvent, PrefillProgress, ToolCallEvent, UsageEvent
from agent.formats.base import failed
from agent.formats.stream import ReplySplitter
from agent.grammar import Grammar
from agent.messages import Message, ToolCall, ToolSpec

# Tokens a call may always use, even when the reasoning before it spent the turn's budget.
CALL_MIN_TOKENS = 256
# tokens less likely than this share of the likeliest are never sampled (ChatOptions.min_p: lower)
MIN_P = 0.05
LOOP_CHECK_EVERY = 8  # tokens between checks of a call's tail for a loop (agent/engines/repetition.py)
# Turn-end markers some models print as plain text (e.g. a base model imitating ChatML).
TURN_END_TEXT = (
    "<|im_end|>",
    "<|im_start|>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|endoftext|>",
    "<|end|>",
    "<|user|>",
)
# After a call: tokens the model gets to open another call before its turn is taken as over.
FOLLOW_TOKENS = 12
MAX_CALLS_PER_TURN = 4
# How a call stopped by a budget begins its error: a small model rambling inside a string is
# reported to it (and shown), never run and never taken for a malformed call.
CUT_OFF = "the tool call was cut off by the token limit"
LOOPED = "the tool call was stopped"
BUDGET_STOPS = (CUT_OFF, LOOPED)


# ---- the engine ------------------------------------------------------------------------------


class LlamaCppEngine:
    def __init__(
        self,
        llama: Any,
        model_name: str,
        template: ChatTemplate | None = None,
        pre_call_max_tokens: int = 64,
        tool_format: str | None = None,
        thinking: ThinkingEffort | None = None,
        prefix_cache: PrefixCache | None = None,
        speculative: bool = True,
        ngram: NgramSettings | None = None,
    ) -> None:
        """`prefix_cache`: where the KV state of the prompt's opening (system prompt and tools)
        is kept between sessions (agent/engines/prefix_cache.py); None: prefilled every session.
        `speculative`: prompt-lookup drafts verified exactly (agent/engines/speculative.py), with
        `ngram` or the model's measured defaults (agent/engines/speculation_settings.py)."""
        self._llama = llama
        self.ngram = (ngram or ngram_settings(model_name)) if speculative else None
        self.prefix_cache = prefix_cache
        self._openings_checked: set[str] = set()  # system messages whose KV state was looked up
        self.opening_restored = 0  # opening tokens loaded from the prefix cache (0: none)
        self._warm_prefill: tuple[int, float] | None = None  # prefilled before the first pass
        self._model_name = model_name
        self.pre_call_max_tokens = pre_call_max_tokens  # reasoning allowed before a required call
        self.max_calls_per_turn = MAX_CALLS_PER_TURN
        self.thinking_budget = THINKING_BUDGET[thinking]
        self.use_llguidance = llguidance_available()
        self._masker: TokenMasker | None = None
        self._pieces: dict[int, bytes] = {}
        self._vocab = VocabularyTables(llama)
        bos = int(llama.token_bos())
        self._bos = [bos] if bos >= 0 and llama._model.add_bos_token() else []
        try:
            variables = thinking_variables(thinking)
            self.template = template or ChatTemplate.of_model(llama, tool_format, variables)
        except ChatTemplateError as exc:
            raise EngineError(f"{exc}; the GGUF's tokenizer.chat_template is unusable") from exc
        self.format = self.template.format
        if not self.template.parallel_calls:  # the template keeps one call per reply
            self.max_calls_per_turn = 1

    @property
    def name(self) -> str:
        return "llama.cpp"

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def context_length(self) -> int:
        return int(self._llama.n_ctx())

    @property
    def tool_format(self) -> str:
        return self.format.name

    @property
    def samples(self) -> bool:
        return True

    # ---- tokens ------------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[int]:
        # a lone surrogate cannot be encoded: never from a parsed call (agent/formats/jsonrepair.py), but a
        # prompt must not die on one that came in some other way
        return list(self._llama.tokenize(text.encode("utf-8", errors="replace"), add_bos=False, special=True))

    def _render_text(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], generation: bool = True
    ) -> str:
        try:
            return self.template.render(messages, tools, add_generation_prompt=generation)
        except ChatTemplateError as exc:
            raise EngineError(str(exc)) from exc

    def _prompt_tokens(self, text: str) -> list[int]:
        """The prompt's tokens; BOS added when the model wants one and the template did not write it."""
        tokens = self._tokenize(text)
        return tokens if tokens[: len(self._bos)] == self._bos else self._bos + tokens

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        return len(self._prompt_tokens(self._render_text(messages, tools)))

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = bytes(self._llama._model.detokenize([token], special=True))
        return piece

    def _with_cached_tokens(self, tokens: list[int]) -> list[int]:
        """`tokens`, keeping the KV cache's own split of any text the cache already holds."""
        return reuse_cached_tokens(
            tokens,
            self._llama._input_ids.tolist(),
            self._piece,
            lambda data: list(self._llama.tokenize(data, add_bos=False, special=True)),
        )

    def _reusable_prefix(self, tokens: Sequence[int]) -> int:
        """Prompt tokens llama.cpp will not evaluate again (mirrors `Llama.generate`'s prefix rule)."""
        current = self._llama._input_ids
        common = common_prefix(current, tokens)
        if common < len(tokens):
            return common
        exact = len(current) == len(tokens) and not getattr(self._llama, "_requires_eval", True)
        return common if exact else max(0, common - 1)  # else the last token is evaluated again

    # ---- chat --------------------------------------------------------------------------------

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        policy = CallPolicy.of(tools, options.tool_choice)
        prompt_text = self._render_text(messages, tools)
        prompt = self._prompt_tokens(prompt_text)
        opening_key = messages[0].content if messages and messages[0].role == "system" else ""
        if self.prefix_cache is not None and opening_key and opening_key not in self._openings_checked:
            self._openings_checked.add(opening_key)  # each opening once (the repair phase has its own)
            self._warm_opening(messages, tools, prompt)
        turn = Turn(
            messages=messages,
            tools=tools,
            prompt_text=prompt_text,
            prompt=prompt,
            budget=options.max_tokens,
            thinking_open=opens_thinking(prompt_text),
            room=self._room(len(prompt)),
            thinking_allowance=self.thinking_budget if self.thinking_budget is not None else 1 << 30,
        )
        if options.seed is not None:
            self._llama.set_seed(options.seed)
        try:
            opened = yield from self._free_text(turn, policy, options)
            if policy.allowed and (opened or policy.forced):
                yield from self._calls(turn, policy, options)
        except DeadlineReached:  # the reply so far, its calls dropped: the run's time is up
            usage = turn.usage()
            yield UsageEvent(usage=usage)
            yield ChatDone(
                message=turn.message().model_copy(update={"tool_calls": []}),
                usage=usage,
                finish_reason="deadline",
            )
            return
        usage = turn.usage()
        yield UsageEvent(usage=usage)
        free_stop = turn.passes[0].stop if turn.passes else "stop"
        finish = "tool_calls" if turn.calls else ("length" if free_stop == "length" else "stop")
        yield ChatDone(message=turn.message(), usage=usage, finish_reason=finish)

    def _warm_opening(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], prompt: list[int]
    ) -> None:
        """Before the session's first prefill: the KV state of the system message (with the tools
        the template renders into it) from the prefix cache, or prefilled now and saved there."""
        if self.prefix_cache is None or not messages or messages[0].role != "system":
            return
        alone = self._prompt_tokens(self._render_text(messages[:1], tools, generation=False))
        opening = prompt[: common_prefix(alone, prompt)]
        if common_prefix(self._llama._input_ids, opening) == len(opening):
            return  # this session's KV cache holds it already
        self.opening_restored = self.prefix_cache.restore(opening)
        if not self.opening_restored:
            started = time.monotonic()
            self.prefix_cache.save(opening)
            if len(opening) >= MIN_TOKENS:  # a shorter one is neither saved nor prefilled there
                self._warm_prefill = (len(opening), time.monotonic() - started)  # the turn's own prefill

    def _room(self, prompt_tokens: int) -> int:
        room = self.context_length - prompt_tokens
        if room < 32:
            raise EngineError(
                f"the prompt ({prompt_tokens} tokens) does not fit the context window "
                f"({self.context_length}); raise --ctx or shorten the task"
            )
        return room

    # ---- free text and reasoning ---------------------------------------------------------------

    def _free_text(
        self, turn: Turn, policy: CallPolicy, options: ChatOptions
    ) -> Generator[EngineEvent, None, bool]:
        """Reasoning and text up to a call opener, a turn end or a limit; True if a call opened.

        Where the reasoning ends (the model closed it, or its budget ran out) the pass stops and
        the answer goes on from the template's own rendering of the reasoning: the bytes the model
        wrote around its closing tag (a newline after it, a space before it) are not what the
        template writes back into the next prompt, and everything after the first byte that
        differs would be evaluated again there, turn after turn.
        """
        opened, ended = yield from self._free_pass(turn, turn.prompt, turn.thinking_open, policy, options)
        answer = ended == "closed" or (ended == "budget" and not policy.forced)
        if answer and turn.remaining() > 0:  # on from the reasoning as the template writes it
            prefix = turn.prompt + self._tokenize(self._continuation(turn, next_call=False))
            opened, _ = yield from self._free_pass(turn, prefix, False, policy, options)
        return opened

    def _free_pass(
        self, turn: Turn, tokens: list[int], thinking_open: bool, policy: CallPolicy, options: ChatOptions
    ) -> Generator[EngineEvent, None, tuple[bool, str]]:
        """One unconstrained pass; (a call opened, how the reasoning ended: "closed" by the
        model, its "budget" ran out, or "" when the pass ended otherwise).

        Visible text is held to `max_tokens` (to the short pre-call allowance when a call is
        required); reasoning has its own budget on top.
        """
        text_allowance = self.pre_call_max_tokens if policy.forced else options.max_tokens
        text_limit = min(turn.remaining(), text_allowance)
        if text_limit <= 0:  # straight to the required call
            return False, ""
        triggers = self.format.triggers if policy.allowed else ()
        splitter = ReplySplitter(triggers, stops=(*TURN_END_TEXT, *options.stop), thinking_open=thinking_open)
        out = turn.new_pass()
        thinking_tokens = text_tokens = 0
        ended = ""
        constraint = {"logits_processor": [self._no_blank_start(closing=thinking_open)]}
        with closing(self._decode(tokens, turn.most(), constraint, options, out, report=True)) as pieces:
            for piece in pieces:
                if isinstance(piece, PrefillProgress):
                    yield piece
                    continue
                in_thinking = splitter.in_thinking
                yield from deltas(splitter.feed(piece))
                if splitter.done:
                    out.stop = "call" if splitter.in_call else "stop"
                    break
                if splitter.thought:
                    out.stop, ended = "thought", "closed"
                    break
                thinking_tokens += in_thinking
                turn.thinking_tokens += in_thinking
                text_tokens += not in_thinking
                if (
                    in_thinking
                    and self.thinking_budget is not None
                    and thinking_tokens >= self.thinking_budget
                ):
                    out.stop, ended = "thinking_budget", "budget"
                    break
                if text_tokens >= text_limit:
                    out.stop = "length"
                    break
                if policy.forced and not in_thinking and said_a_line(splitter.text):
                    out.stop = "length"  # one line of reasoning before a required call (models
                    break  # asked for one sentence restated their whole plan, at ~6 tok/s)
        yield from deltas(splitter.flush())
        turn.thinking = (turn.thinking + splitter.thinking).strip()
        turn.content = (turn.content + splitter.text).strip()
        return splitter.in_call, ended

    def _unchanged_edit_guard(self) -> UnchangedEditGuard:
        return self._vocab.unchanged_edit_guard(self._piece)

    def _no_blank_start(self, closing: bool) -> Any:
        return self._vocab.no_blank_start(closing)

    # ---- calls ---------------------------------------------------------------------------------

    def _calls(self, turn: Turn, policy: CallPolicy, options: ChatOptions) -> Iterator[ToolCallEvent]:
        """Constrained calls, one after the other while the model keeps opening new ones."""
        grammar = self.format.body_grammar(turn.tools, only=policy.only)
        while True:
            call = self._constrained_call(turn, grammar, options)
            turn.calls.append(call)
            yield ToolCallEvent(call=call)
            if call.parse_error or len(turn.calls) >= self.max_calls_per_turn or turn.remaining() <= 0:
                return
            if not self._opens_another(turn, options):
                return

    def _constrained_call(self, turn: Turn, grammar: Grammar, options: ChatOptions) -> ToolCall:
        """One call under the tools' grammar, after the turn's text in the template's own form."""
        prefix = turn.prompt + self._tokenize(self._continuation(turn, next_call=True))
        out = turn.new_pass()
        limit = max(1, min(max(turn.remaining(), CALL_MIN_TOKENS), self.context_length - len(prefix)))
        constraint = self._constraint(grammar)
        period = 0
        with closing(self._decode(prefix, limit, constraint, options, out)) as pieces:
            for _ in pieces:
                if len(out.ids) % LOOP_CHECK_EVERY == 0 and (period := repeating_period(out.ids)):
                    out.stop = "repetition"
                    break
        index = len(turn.calls)
        parsed = self.format.parse_calls(self.format.opener + out.text, turn.tools, first_index=index).calls
        call = (
            parsed[0] if parsed else failed(self.format.call_id(index), "", out.text, "no call was produced")
        )
        if out.stop == "length":
            error = f"{CUT_OFF}; send shorter arguments"
            call = call.model_copy(update={"parse_error": error, "raw_arguments": out.text})
        if period:
            pattern = self._llama.detokenize(out.ids[-period:], special=True).decode(
                "utf-8", errors="replace"
            )
            error = (
                f"{LOOPED} after {len(out.ids)} tokens: it repeated {pattern.strip()!r} "
                "over and over. Send the call again, writing each part once"
            )
            call = call.model_copy(update={"parse_error": error, "raw_arguments": out.text[:2000]})
        left = [
            p.error
            for p in constraint.get("logits_processor", [])
            if isinstance(p, GrammarProcessor) and p.error
        ]
        if left and not call.parse_error:  # an engine bug, never the model's: say so rather than guess
            call = call.model_copy(update={"parse_error": left[0], "raw_arguments": out.text})
        return call

    def _opens_another(self, turn: Turn, options: ChatOptions) -> bool:
        """After a call: does the model open another call (rather than end its turn)?"""
        text = self._continuation(turn, next_call=True)
        prefix = turn.prompt + self._tokenize(text[: len(text) - len(self.format.opener)])
        out = turn.new_pass()
        limit = min(FOLLOW_TOKENS, turn.remaining())
        triggers = self.format.triggers
        with closing(self._decode(prefix, limit, None, options, out)) as pieces:
            for _ in pieces:
                head = out.text.lstrip()
                if any(head.startswith(t) for t in triggers):
                    out.stop = "call"
                    return True
                if head and not any(t.startswith(head) for t in triggers):
                    out.stop = "stop"  # anything else after a call ends the turn (and is dropped)
                    return False
        return False

    def _continuation(self, turn: Turn, next_call: bool) -> str:
        """The template's own text of the reply so far (agent/engines/continuation.py)."""
        return continuation(self._render_text, self.format, turn, next_call)

    # ---- decoding ------------------------------------------------------------------------------

    def _constraint(self, grammar: Grammar) -> dict[str, Any]:
        """`Sampling` arguments that enforce `grammar`: llguidance masks, else llama.cpp GBNF."""
        if self.use_llguidance:
            try:
                if self._masker is None:
                    with warnings.catch_warnings():  # its vocabulary walk uses deprecated calls
                        warnings.simplefilter("ignore", DeprecationWarning)
                        self._masker = TokenMasker(self._llama)
                processor = self._masker.processor(grammar.lark)
                return {"logits_processor": [processor, self._unchanged_edit_guard()]}
            except ConstraintError:
                pass  # llguidance refused this grammar: llama.cpp's own sampler takes it
        from llama_cpp import LlamaGrammar

        return {
            "grammar": LlamaGrammar.from_string(grammar.gbnf, verbose=False),
            "logits_processor": [self._unchanged_edit_guard()],
        }

    def _decode(
        self,
        tokens: list[int],
        limit: int,
        constraint: dict[str, Any] | None,
        options: ChatOptions,
        out: Pass,
        report: bool = False,
    ) -> Generator[str | PrefillProgress, None, None]:
        """Stream the text of each generated token until EOS or `limit`; the caller may stop early.
        `report`: a `PrefillProgress` first after each prefill chunk (the other items are str)."""
        spliced = self._with_cached_tokens(tokens)
        if len(spliced) + min(limit, 1) <= self.context_length:  # the cache's split may be longer
            tokens = spliced
        limit = min(limit, self.context_length - len(tokens))
        if limit <= 0:
            out.stop = "length"
            return
        out.cached = self._reusable_prefix(tokens)
        out.prefilled = len(tokens) - out.cached
        if self._warm_prefill is not None:  # the opening, prefilled (and saved) just before
            count, seconds = self._warm_prefill
            self._warm_prefill = None
            out.cached, out.prefilled = out.cached - count, out.prefilled + count
            warm_seconds = seconds
        else:
            warm_seconds = 0.0
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        is_end = self._end_check()
        started = time.monotonic()
        first_at: float | None = None
        sampling = _sampling(constraint, options)
        drafter = PromptLookup(self.ngram, tokens) if self.ngram is not None else None
        max_draft = self.ngram.max_draft if self.ngram is not None else 0
        generator = generate(
            self._llama, tokens, sampling, drafter, out.drafts, max_draft, limit, options.past_deadline, True
        )
        try:
            pending = start(self._llama, tokens)
            for done in prefill(self._llama, pending, options.past_deadline):
                if report:
                    yield PrefillProgress(done=done, total=len(pending))
            for token in generator:
                first_at = first_at or time.monotonic()
                if is_end(token):
                    out.stop = "eos"
                    return
                out.ids.append(token)
                piece = decoder.decode(self._llama.detokenize([token], special=True))
                out.text += piece
                yield piece
                if len(out.ids) >= limit:
                    out.stop = "length"
                    return
        finally:
            generator.close()
            ended = time.monotonic()
            out.prefill_seconds = (first_at or ended) - started + warm_seconds
            out.decode_seconds = ended - (first_at or ended)

    def _end_check(self) -> Any:
        import llama_cpp

        vocab = self._llama._model.vocab
        return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))


def _sampling(constraint: dict[str, Any] | None, options: ChatOptions) -> Sampling:
    return Sampling(
        temperature=options.temperature,
        top_k=40,
        top_p=0.95,
        min_p=MIN_P if options.min_p is None else options.min_p,
        **(constraint or {}),
    )
