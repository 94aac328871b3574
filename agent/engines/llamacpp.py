"""The embedded engine: llama-cpp-python with the model resident for the whole session.

Prompts are rendered with the model's own chat template and tokenized here, so llama.cpp's
prefix reuse applies every turn. Tool calls use lazy constrained decoding: text is generated
freely (full speed) until the model opens a call (or, when a call is required, until its short
reasoning ends); only the call itself is generated under a grammar derived from the tools'
schemas, so its arguments are always valid.
"""

from __future__ import annotations

import codecs
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.chat_template import ChatTemplate, ChatTemplateError
from agent.constrain import TokenMasker, llguidance_available
from agent.engine import ChatOptions, EngineError
from agent.events import ChatDone, EngineEvent, TextDelta, ToolCallEvent, Usage, UsageEvent
from agent.grammar import tool_call_grammar
from agent.messages import Message, ToolCall, ToolSpec
from agent.toolcalls import OPEN, StreamSplitter, parse_call_body

# Turn-end markers some models print as plain text (e.g. a base model imitating ChatML).
CALL_MIN_TOKENS = 256
# Where a call starts: the format's tag, or a bare JSON call (small models often drop the tag);
# from there the call is generated again under the grammar, in the canonical format.
CALL_OPENERS = (OPEN, '{"name":', "```json")
TURN_END_TEXT = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<|user|>")


def default_threads() -> int:
    """Threads for generation: every core this process may use (llama.cpp's default is half)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def load_llama(path: Path, n_ctx: int = 16384, n_threads: int | None = None, verbose: bool = False) -> Any:
    """Load a GGUF with llama-cpp-python; failures become an `EngineError` naming the fix."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise EngineError("llama-cpp-python is not installed: pip install llama-cpp-python") from exc
    if not path.is_file():
        raise EngineError(f"model file not found: {path}")
    threads = n_threads or default_threads()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            logits_all=False,
            verbose=verbose,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineError(
            f"llama.cpp could not load {path.name}: {exc}. Check that it is a complete GGUF file; "
            "if memory is short, lower --ctx"
        ) from exc


@dataclass
class _Generation:
    """One decoding pass: the token ids, their text, and why it stopped."""

    ids: list[int] = field(default_factory=list)
    text: str = ""
    stop: str = "length"  # "eos" | "length" | "call"
    prefilled: int = 0
    cached: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0


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
        self.pre_call_max_tokens = pre_call_max_tokens
        self.use_llguidance = llguidance_available()
        self._masker: TokenMasker | None = None
        self.template = template or self._template_from_metadata()

    def _template_from_metadata(self) -> ChatTemplate:
        meta = self._llama.metadata

        def token_text(token_id: int) -> str:
            return (
                self._llama.detokenize([token_id], special=True).decode("utf-8", errors="replace")
                if token_id >= 0
                else ""
            )

        return ChatTemplate(
            meta.get("tokenizer.chat_template"),
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
        try:
            return self._tokenize(self.template.render(messages, tools))
        except ChatTemplateError as exc:
            raise EngineError(str(exc)) from exc

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        return len(self._render(messages, tools))

    def _cached_prefix(self, tokens: Sequence[int]) -> int:
        current = self._llama._input_ids[: self._llama.n_tokens]
        n = 0
        for a, b in zip(current, tokens, strict=False):
            if a != b:
                break
            n += 1
        return n

    # ---- chat --------------------------------------------------------------------------------

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        prompt = self._render(messages, tools)
        budget = self._budget(len(prompt), options.max_tokens)
        if options.seed is not None:
            self._llama.set_seed(options.seed)
        want_calls = bool(tools) and options.tool_choice != "none"
        free_limit = (
            budget if options.tool_choice in ("auto", "none") else min(budget, self.pre_call_max_tokens)
        )
        stops = (*TURN_END_TEXT, *options.stop)
        splitter = StreamSplitter(stops=stops, opens=CALL_OPENERS)
        free = _Generation()
        shown: list[str] = []
        for piece in self._decode(prompt, free_limit, None, options, free, splitter):
            shown.append(piece)
            yield TextDelta(text=piece)
        shown.append(splitter.flush())
        if shown[-1]:
            yield TextDelta(text=shown[-1])
        text = "".join(shown)  # the free text up to a call opener or a turn end
        calls: list[ToolCall] = []
        passes = [free]
        forced = options.tool_choice not in ("auto", "none")
        if want_calls and (free.stop == "call" or forced):
            call, second = self._constrained_call(prompt, free, text, tools, options, budget - len(free.ids))
            passes.append(second)
            calls.append(call)
            yield ToolCallEvent(call=call)
        usage = _usage(len(prompt), passes)
        yield UsageEvent(usage=usage)
        message = Message(role="assistant", content=text.strip(), tool_calls=calls)
        yield ChatDone(
            message=message, usage=usage, finish_reason="tool_calls" if calls else _finish(free.stop)
        )

    def _budget(self, prompt_tokens: int, max_tokens: int) -> int:
        room = self.context_length - prompt_tokens
        if room < 32:
            raise EngineError(
                f"the prompt ({prompt_tokens} tokens) does not fit the context window "
                f"({self.context_length}); raise --ctx or shorten the task"
            )
        return min(max_tokens, room)

    def _constrained_call(
        self,
        prompt: list[int],
        free: _Generation,
        text: str,
        tools: Sequence[ToolSpec],
        options: ChatOptions,
        budget: int,
    ) -> tuple[ToolCall, _Generation]:
        """Generate `{"name": ..., "arguments": ...}` under the tools' grammar, after the free text."""
        lead = text.rstrip() + "\n" if text.strip() else ""
        prefix = prompt + self._tokenize(lead + OPEN + "\n")
        only = options.tool_choice if options.tool_choice not in ("auto", "none", "required") else None
        constraint = self._constraint(tool_call_grammar(tools, only=only))
        second = _Generation()
        for _ in self._decode(
            prefix, self._call_budget(len(prefix), budget), constraint, options, second, None
        ):
            pass
        call = parse_call_body(second.text, "call_0")
        if second.stop == "length":
            call = call.model_copy(
                update={
                    "parse_error": "the tool call was cut off by the token limit; send shorter arguments",
                    "raw_arguments": second.text,
                }
            )
        return call, second

    def _constraint(self, gbnf: str) -> dict[str, Any]:
        """`generate` keyword arguments that enforce `gbnf`: llguidance masks, else llama.cpp GBNF."""
        if self.use_llguidance:
            if self._masker is None:
                self._masker = TokenMasker(self._llama)
            return {"logits_processor": [self._masker.processor(gbnf)]}
        from llama_cpp import LlamaGrammar

        return {"grammar": LlamaGrammar.from_string(gbnf, verbose=False)}

    def _call_budget(self, prefix_tokens: int, remaining: int) -> int:
        """Tokens for the call itself: what is left of the turn, but never starved by the reasoning."""
        return max(1, min(max(remaining, CALL_MIN_TOKENS), self.context_length - prefix_tokens))

    def _decode(
        self,
        tokens: list[int],
        limit: int,
        constraint: dict[str, Any] | None,
        options: ChatOptions,
        out: _Generation,
        splitter: StreamSplitter | None,
    ) -> Iterator[str]:
        out.cached = self._cached_prefix(tokens)
        out.prefilled = len(tokens) - out.cached
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
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
                if first_at is None:
                    first_at = time.monotonic()
                if self._is_end(token):
                    out.stop = "eos"
                    break
                out.ids.append(token)
                piece = decoder.decode(self._llama.detokenize([token], special=True))
                out.text += piece
                shown = splitter.feed(piece) if splitter is not None else piece
                if shown:
                    yield shown
                if splitter is not None and (splitter.in_call or splitter.stopped):
                    out.stop = "call" if splitter.in_call else "eos"
                    break
                if len(out.ids) >= limit:
                    break
        finally:
            generator.close()
        ended = time.monotonic()
        out.prefill_seconds = (first_at or ended) - started
        out.decode_seconds = ended - (first_at or ended)

    def _is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._llama._model.vocab, token))


def _finish(stop: str) -> str:
    return "length" if stop == "length" else "stop"


def _usage(prompt_tokens: int, passes: list[_Generation]) -> Usage:
    return Usage(
        prompt_tokens=prompt_tokens,
        prefilled_tokens=sum(p.prefilled for p in passes),
        cached_tokens=passes[0].cached,
        generated_tokens=sum(len(p.ids) for p in passes),
        prefill_seconds=round(sum(p.prefill_seconds for p in passes), 4),
        decode_seconds=round(sum(p.decode_seconds for p in passes), 4),
    )


def describe(engine: LlamaCppEngine) -> str:
    return json.dumps({"model": engine.model, "n_ctx": engine.context_length})
