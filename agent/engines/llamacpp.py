"""The embedded engine: llama-cpp-python with the model resident for the whole session.

Prompts are rendered with the model's own chat template and tokenized here, so llama.cpp's
prefix reuse (`Llama.generate` keeps the KV cache of the longest common token prefix) applies
every turn. Tool calls use lazy constrained decoding: text is generated freely (full speed) until
the model opens a call (or, when a call is required, until its short reasoning ends); only the
call itself is generated under a grammar derived from the tools' schemas, so its arguments are
always valid JSON of the right shape. After a call the model may open another one or end its turn.
"""

from __future__ import annotations

import codecs
import os
import time
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.chat_template import ChatTemplate, ChatTemplateError
from agent.constrain import ConstraintError, TokenMasker, llguidance_available
from agent.engine import ChatOptions, EngineError
from agent.events import ChatDone, EngineEvent, TextDelta, ToolCallEvent, Usage, UsageEvent
from agent.grammar import tool_call_grammar
from agent.messages import Message, ToolCall, ToolSpec
from agent.toolcalls import OPEN, StreamSplitter, call_id, parse_call_body, render_calls

# Tokens a call may always use, even when the reasoning before it spent the turn's budget.
CALL_MIN_TOKENS = 256
# Where a call starts: the format's tag, or a bare JSON call (small models often drop the tag);
# from there the call is generated again under the grammar, in the canonical format.
CALL_OPENERS = (OPEN, '{"name":', "```json")
# Turn-end markers some models print as plain text (e.g. a base model imitating ChatML).
TURN_END_TEXT = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<|user|>")
# After a call: tokens the model gets to open another call before its turn is taken as over.
FOLLOW_TOKENS = 12
MAX_CALLS_PER_TURN = 4


# ---- loading -------------------------------------------------------------------------------


def usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int]) -> int:
    """Distinct physical cores among `cpus` (hyper-threads share one); decode is memory-bound."""
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/core_cpus_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def load_llama(
    path: Path | str,
    n_ctx: int = 16384,
    n_threads: int | None = None,
    verbose: bool = False,
    *,
    n_threads_batch: int | None = None,
    n_batch: int = 512,
    n_ubatch: int = 512,
    n_gpu_layers: int = 0,
    flash_attn: bool = False,
    type_k: int | None = None,
    type_v: int | None = None,
    kv_overrides: dict[str, bool | int | float | str] | None = None,
) -> Any:
    """Load a GGUF with llama-cpp-python; failures become an `EngineError` naming the fix.

    Decoding uses one thread per physical core (llama-cpp-python's default, half the CPUs, is a
    single thread on a 2-CPU machine); prompt evaluation uses every CPU this process may run on.
    The keyword arguments are what `agent.models.load_plan.LoadPlan.load_kwargs` recommends: a
    quantised V cache (`type_v`) needs `flash_attn=True`; `kv_overrides` carries GGUF metadata
    overrides such as `{"<arch>.expert_used_count": N}`.
    """
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise EngineError("llama-cpp-python is not installed: pip install llama-cpp-python") from exc
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"model file not found: {path}; run `agent models pull` or pass --model PATH")
    cpus = usable_cpus()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or physical_cores(cpus),
            n_threads_batch=n_threads_batch or n_threads or len(cpus),
            n_batch=n_batch,
            n_ubatch=n_ubatch,
            n_gpu_layers=n_gpu_layers,
            flash_attn=flash_attn,
            type_k=type_k,
            type_v=type_v,
            kv_overrides=kv_overrides or None,
            logits_all=False,
            verbose=verbose,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineError(_load_fix(path, n_ctx, exc)) from exc


def _load_fix(path: Path, n_ctx: int, exc: Exception) -> str:
    if "context" in str(exc).lower():
        return (
            f"llama.cpp loaded {path.name} but could not allocate a {n_ctx}-token context ({exc}); "
            "lower --ctx"
        )
    return (
        f"llama.cpp could not load {path.name} ({exc}); check that it is a complete GGUF file "
        "(re-download it with `agent models pull`) for an architecture this llama-cpp-python supports"
    )


# ---- one chat turn ---------------------------------------------------------------------------


@dataclass
class _Pass:
    """One decoding request: the tokens it produced, their text, and why it stopped."""

    ids: list[int] = field(default_factory=list)
    text: str = ""
    stop: str = "length"  # "eos" | "length" | "call" | "stop"
    prefilled: int = 0
    cached: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0


@dataclass
class _Turn:
    prompt: list[int]
    budget: int
    passes: list[_Pass] = field(default_factory=list)
    content: str = ""  # the free text before the first call
    calls: list[ToolCall] = field(default_factory=list)

    def new_pass(self) -> _Pass:
        self.passes.append(_Pass())
        return self.passes[-1]

    def remaining(self) -> int:
        return self.budget - sum(len(p.ids) for p in self.passes)

    def text_so_far(self) -> str:
        """The assistant's text exactly as the chat template renders it afterwards."""
        lead = self.content + "\n" if self.content and self.calls else self.content
        return lead + render_calls(self.calls)

    def usage(self) -> Usage:
        passes = self.passes
        return Usage(
            prompt_tokens=len(self.prompt),
            prefilled_tokens=sum(p.prefilled for p in passes),
            cached_tokens=passes[0].cached if passes else 0,
            generated_tokens=sum(len(p.ids) for p in passes),
            prefill_seconds=round(sum(p.prefill_seconds for p in passes), 4),
            decode_seconds=round(sum(p.decode_seconds for p in passes), 4),
        )


@dataclass(frozen=True)
class _CallPolicy:
    allowed: bool  # calls may be made at all
    forced: bool  # a call must be made ("required" or a tool name)
    only: str | None  # the one tool allowed

    @classmethod
    def of(cls, tools: Sequence[ToolSpec], choice: str) -> _CallPolicy:
        if not tools or choice == "none":
            return cls(False, False, None)
        if choice in ("auto", "required"):
            return cls(True, choice == "required", None)
        if choice not in {t.name for t in tools}:
            raise EngineError(f"tool_choice names {choice!r}, which is not one of the tools offered")
        return cls(True, True, choice)


class LlamaCppEngine:
    def __init__(
        self,
        llama: Any,
        model_name: str,
        template: ChatTemplate | None = None,
        pre_call_max_tokens: int = 64,
    ) -> None:
        self._llama = llama
        self._model_name = model_name
        self.pre_call_max_tokens = pre_call_max_tokens  # reasoning allowed before a required call
        self.max_calls_per_turn = MAX_CALLS_PER_TURN
        self.use_llguidance = llguidance_available()
        self._masker: TokenMasker | None = None
        bos = int(llama.token_bos())
        self._bos = [bos] if bos >= 0 and llama._model.add_bos_token() else []
        try:
            self.template = template or self._template_from_metadata()
        except ChatTemplateError as exc:
            raise EngineError(f"{exc}; the GGUF's tokenizer.chat_template is unusable") from exc

    def _template_from_metadata(self) -> ChatTemplate:
        def token_text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return self._llama.detokenize([token_id], special=True).decode("utf-8", errors="replace")

        return ChatTemplate(
            self._llama.metadata.get("tokenizer.chat_template"),
            bos_token=token_text(self._llama.token_bos()),
            eos_token=token_text(self._llama.token_eos()),
        )

    @property
    def name(self) -> str:
        return "llama.cpp"

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def context_length(self) -> int:
        return int(self._llama.n_ctx())

    # ---- tokens ------------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _render(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[int]:
        """The prompt's tokens; BOS added when the model wants one and the template did not write it."""
        try:
            tokens = self._tokenize(self.template.render(messages, tools))
        except ChatTemplateError as exc:
            raise EngineError(str(exc)) from exc
        return tokens if tokens[: len(self._bos)] == self._bos else self._bos + tokens

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        return len(self._render(messages, tools))

    def _reusable_prefix(self, tokens: Sequence[int]) -> int:
        """Prompt tokens llama.cpp will not evaluate again (mirrors `Llama.generate`'s prefix rule)."""
        current = self._llama._input_ids
        common = 0
        for a, b in zip(current, tokens, strict=False):
            if a != b:
                break
            common += 1
        if common < len(tokens):
            return common
        exact = len(current) == len(tokens) and not getattr(self._llama, "_requires_eval", True)
        return common if exact else max(0, common - 1)  # else the last token is evaluated again

    # ---- chat --------------------------------------------------------------------------------

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        policy = _CallPolicy.of(tools, options.tool_choice)
        prompt = self._render(messages, tools)
        turn = _Turn(prompt, self._budget(len(prompt), options.max_tokens))
        if options.seed is not None:
            self._llama.set_seed(options.seed)
        opened = yield from self._free_text(turn, policy, options)
        if policy.allowed and (opened or policy.forced):
            yield from self._calls(turn, tools, policy, options)
        usage = turn.usage()
        yield UsageEvent(usage=usage)
        message = Message(role="assistant", content=turn.content, tool_calls=turn.calls)
        free_stop = turn.passes[0].stop if turn.passes else "stop"
        finish = "tool_calls" if turn.calls else ("length" if free_stop == "length" else "stop")
        yield ChatDone(message=message, usage=usage, finish_reason=finish)

    def _budget(self, prompt_tokens: int, max_tokens: int) -> int:
        room = self.context_length - prompt_tokens
        if room < 32:
            raise EngineError(
                f"the prompt ({prompt_tokens} tokens) does not fit the context window "
                f"({self.context_length}); raise --ctx or shorten the task"
            )
        return min(max_tokens, room)

    def _free_text(
        self, turn: _Turn, policy: _CallPolicy, options: ChatOptions
    ) -> Generator[TextDelta, None, bool]:
        """Unconstrained text up to a call opener, a turn end or the limit; True if a call opened."""
        limit = min(turn.budget, self.pre_call_max_tokens) if policy.forced else turn.budget
        if limit <= 0:  # straight to the required call
            return False
        openers = CALL_OPENERS if policy.allowed else (OPEN,)
        splitter = StreamSplitter(stops=(*TURN_END_TEXT, *options.stop), opens=openers)
        out = turn.new_pass()
        shown: list[str] = []
        with closing(self._decode(turn.prompt, limit, None, options, out)) as pieces:
            for piece in pieces:
                if text := splitter.feed(piece):
                    shown.append(text)
                    yield TextDelta(text=text)
                if splitter.done:
                    out.stop = "call" if splitter.in_call else "stop"
                    break
        if tail := splitter.flush():
            shown.append(tail)
            yield TextDelta(text=tail)
        turn.content = "".join(shown).strip()
        return splitter.in_call

    def _calls(
        self, turn: _Turn, tools: Sequence[ToolSpec], policy: _CallPolicy, options: ChatOptions
    ) -> Iterator[ToolCallEvent]:
        """Constrained calls, one after the other while the model keeps opening new ones."""
        gbnf = tool_call_grammar(tools, only=policy.only)
        while True:
            call = self._constrained_call(turn, gbnf, options)
            turn.calls.append(call)
            yield ToolCallEvent(call=call)
            if call.parse_error or len(turn.calls) >= self.max_calls_per_turn or turn.remaining() <= 0:
                return
            if not self._opens_another(turn, options):
                return

    def _constrained_call(self, turn: _Turn, gbnf: str, options: ChatOptions) -> ToolCall:
        """Generate `{"name": ..., "arguments": ...}` under the tools' grammar, after the text so far."""
        sep = "\n" if turn.content or turn.calls else ""
        prefix = turn.prompt + self._tokenize(turn.text_so_far() + sep + OPEN + "\n")
        out = turn.new_pass()
        limit = max(1, min(max(turn.remaining(), CALL_MIN_TOKENS), self.context_length - len(prefix)))
        with closing(self._decode(prefix, limit, self._constraint(gbnf), options, out)) as pieces:
            for _ in pieces:
                pass
        call = parse_call_body(out.text, call_id(len(turn.calls)))
        if out.stop == "length":
            error = "the tool call was cut off by the token limit; send shorter arguments"
            call = call.model_copy(update={"parse_error": error, "raw_arguments": out.text})
        return call

    def _opens_another(self, turn: _Turn, options: ChatOptions) -> bool:
        """After `</tool_call>`: does the model open another call (rather than end its turn)?"""
        prefix = turn.prompt + self._tokenize(turn.text_so_far())
        out = turn.new_pass()
        limit = min(FOLLOW_TOKENS, turn.remaining())
        with closing(self._decode(prefix, limit, None, options, out)) as pieces:
            for _ in pieces:
                head = out.text.lstrip()
                if any(head.startswith(o) for o in CALL_OPENERS):
                    out.stop = "call"
                    return True
                if head and not any(o.startswith(head) for o in CALL_OPENERS):
                    out.stop = "stop"  # anything else after a call ends the turn (and is dropped)
                    return False
        return False

    def _constraint(self, gbnf: str) -> dict[str, Any]:
        """`generate` keyword arguments that enforce `gbnf`: llguidance masks, else llama.cpp GBNF."""
        if self.use_llguidance:
            try:
                if self._masker is None:
                    with warnings.catch_warnings():  # its vocabulary walk uses deprecated calls
                        warnings.simplefilter("ignore", DeprecationWarning)
                        self._masker = TokenMasker(self._llama)
                return {"logits_processor": [self._masker.processor(gbnf)]}
            except ConstraintError:
                pass  # llguidance refused this grammar: llama.cpp's own sampler takes it
        from llama_cpp import LlamaGrammar

        return {"grammar": LlamaGrammar.from_string(gbnf, verbose=False)}

    def _decode(
        self,
        tokens: list[int],
        limit: int,
        constraint: dict[str, Any] | None,
        options: ChatOptions,
        out: _Pass,
    ) -> Generator[str, None, None]:
        """Stream the text of each generated token until EOS or `limit`; the caller may stop early."""
        out.cached = self._reusable_prefix(tokens)
        out.prefilled = len(tokens) - out.cached
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        is_end = self._end_check()
        started = time.monotonic()
        first_at: float | None = None
        generator = self._llama.generate(
            tokens,
            temp=options.temperature,
            top_k=40,
            top_p=0.95,
            min_p=0.05,
            repeat_penalty=1.0,
            **(constraint or {}),
        )
        try:
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
            out.prefill_seconds = (first_at or ended) - started
            out.decode_seconds = ended - (first_at or ended)

    def _end_check(self) -> Any:
        import llama_cpp

        vocab = self._llama._model.vocab
        return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
