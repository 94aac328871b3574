"""An engine for any OpenAI-compatible `/chat/completions` server (llama.cpp's llama-server,
llama_cpp.server, vLLM, SGLang, ollama...): streaming over SSE, native `tools`, and our own parsing
of `<tool_call>` text when a server leaves the calls in the content.

`base_url` rule: used as given when its path already has a version segment (`/v1`, `/v1beta/openai`,
`/api/v3`), otherwise `/v1` is appended. So `http://host:8000` and `http://host:8000/v1` both mean
`http://host:8000/v1/chat/completions`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent.engines.base import ChatOptions, DeadlineReached, EngineError
from agent.engines.turn import ThinkingEffort, thinking_variables
from agent.events import ChatDone, EngineEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage, UsageEvent
from agent.formats import ToolCallFormat, get_format, parse_any
from agent.formats.jsonrepair import JSONRepairError, loads_lenient
from agent.formats.stream import StreamSplitter
from agent.messages import Message, ToolCall, ToolSpec

_VERSION_SEGMENT = re.compile(r"^v\d+[a-z0-9]*$")
# Request keys only some servers know; dropped (and remembered) when a server rejects them.
OPTIONAL_KEYS = ("cache_prompt", "stream_options", "chat_template_kwargs", "min_p")
# Tags that start a call left in the content: the text from there on is not streamed to the user.
CALL_TAGS = ("<tool_call>", "<function=", "[TOOL_CALLS]", "<|python_tag|>")
CHARS_PER_TOKEN_ESTIMATE = 3  # conservative for code, so an estimated prompt does not overflow
MESSAGE_OVERHEAD_TOKENS = 8  # role markers the server's template adds around each message


def api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    segments = urlsplit(root).path.split("/")
    return root if any(_VERSION_SEGMENT.match(s) for s in segments) else root + "/v1"


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.thinking:  # servers that keep reasoning in the prompt read it back from here
        wire["reasoning_content"] = message.thinking
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _join_name(current: str, piece: str) -> str:
    """Servers differ: most send the name once, some (llama_cpp.server) repeat it in every chunk."""
    if not current or piece.startswith(current):
        return piece or current
    return current if piece == current else current + piece


class _CallAccumulator:
    """Streamed `delta.tool_calls` pieces, joined by index."""

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, str]] = {}

    def feed(self, deltas: list[dict[str, Any]]) -> None:
        for delta in deltas:
            index = int(delta.get("index", len(self.parts)))
            part = self.parts.setdefault(index, {"id": "", "name": "", "args": ""})
            part["id"] = delta.get("id") or part["id"]
            function = delta.get("function") or {}
            part["name"] = _join_name(part["name"], function.get("name") or "")
            part["args"] += function.get("arguments") or ""

    def calls(self) -> list[ToolCall]:
        return [self._call(i, index, part) for i, (index, part) in enumerate(sorted(self.parts.items()))]

    @staticmethod
    def _call(position: int, index: int, part: dict[str, str]) -> ToolCall:
        cid, name, raw = part["id"] or f"call_{position}", part["name"], part["args"]
        try:
            arguments = loads_lenient(raw) if raw.strip() else {}
        except JSONRepairError as exc:
            error = f"the arguments of call {index} are not valid JSON: {exc}"
            return ToolCall(id=cid, name=name, raw_arguments=raw, parse_error=error)
        if not isinstance(arguments, dict):
            error = f"arguments must be a JSON object, not {type(arguments).__name__}"
            return ToolCall(id=cid, name=name, raw_arguments=raw, parse_error=error)
        return ToolCall(id=cid, name=name, arguments=arguments)


@dataclass
class _Stream:
    """What one streamed response adds up to."""

    started: float = field(default_factory=time.monotonic)
    first_at: float | None = None
    text: str = ""
    thinking: str = ""
    finish: str = "stop"
    pieces: int = 0  # content / tool-call deltas: about one token each on llama.cpp-based servers
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)  # llama-server's own counters
    splitter: StreamSplitter = field(default_factory=lambda: StreamSplitter(opens=CALL_TAGS))
    calls: _CallAccumulator = field(default_factory=_CallAccumulator)

    def feed(self, event: dict[str, Any]) -> Iterator[EngineEvent]:
        self.usage = event.get("usage") or self.usage
        self.timings = event.get("timings") or self.timings
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            thinking, content, calls = (
                delta.get("reasoning_content"),
                delta.get("content"),
                delta.get("tool_calls"),
            )
            if thinking or content or calls:
                self.first_at = self.first_at or time.monotonic()
                self.pieces += 1
            if thinking:
                self.thinking += thinking
                yield ThinkingDelta(text=thinking)
            if content:
                self.text += content
                if shown := self.splitter.feed(content):
                    yield TextDelta(text=shown)
            if calls:
                self.calls.feed(calls)
            self.finish = choice.get("finish_reason") or self.finish

    def measured(self, prompt_estimate: int) -> Usage:
        ended = time.monotonic()
        first = self.first_at or ended
        t = self.timings
        if t.get("prompt_n") is not None and t.get("predicted_n") is not None:
            cached, prefilled = int(t.get("cache_n") or 0), int(t["prompt_n"])
            return Usage(
                prompt_tokens=cached + prefilled,
                prefilled_tokens=prefilled,
                cached_tokens=cached,
                generated_tokens=int(t["predicted_n"]),
                prefill_seconds=round(float(t.get("prompt_ms") or 0) / 1000, 4),
                decode_seconds=round(float(t.get("predicted_ms") or 0) / 1000, 4),
                drafted_tokens=int(t.get("draft_n") or 0),  # the server's own speculative decoding
                accepted_tokens=int(t.get("draft_n_accepted") or 0),
            )
        prompt = int(self.usage.get("prompt_tokens") or prompt_estimate)
        cached = int((self.usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        return Usage(
            prompt_tokens=prompt,
            prefilled_tokens=prompt - cached,
            cached_tokens=cached,
            generated_tokens=int(self.usage.get("completion_tokens") or self.pieces),
            prefill_seconds=round(first - self.started, 4),
            decode_seconds=round(ended - first, 4),
        )


class OpenAICompatEngine:
    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        context_length: int = 32768,
        tool_format: str | None = None,
        thinking: ThinkingEffort | None = None,
    ) -> None:
        """`tool_format` names the wire format of calls the server leaves in the text (else sniffed);
        `thinking` sets the effort through `chat_template_kwargs` (vLLM, SGLang, llama-server)."""
        self._client = client
        self.tool_format_parser: ToolCallFormat | None = get_format(tool_format) if tool_format else None
        self._template_kwargs = thinking_variables(thinking) if thinking else {}
        self._root = api_root(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._context_length = context_length
        self._tokenize_url: str | None = None
        self._tokenize_probed = False
        self._dropped: set[str] = set()  # optional request keys this server rejected

    @property
    def name(self) -> str:
        return "openai"

    @property
    def model(self) -> str:
        if not self._model:
            self._model = self._discover_model()
        return self._model

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def samples(self) -> bool:
        return True

    @property
    def tool_format(self) -> str:
        """The configured format; unknown otherwise (the server parses calls itself): "json"."""
        return self.tool_format_parser.name if self.tool_format_parser else "json"

    def _discover_model(self) -> str:
        try:
            response = self._client.get(f"{self._root}/models", headers=self._headers)
            response.raise_for_status()
            models = response.json().get("data", [])
        except (httpx.HTTPError, ValueError) as exc:
            raise self._error("listing the models", exc) from exc
        if not models:
            raise EngineError(f"the server at {self._root} serves no model; pass --server-model NAME")
        return str(models[0]["id"])

    def _error(self, doing: str, exc: Exception) -> EngineError:
        return EngineError(
            f"{doing} at {self._root} failed: {exc}. Check that the server is running and "
            "--base-url is right (e.g. http://localhost:8000/v1)"
        )

    # ---- tokens ------------------------------------------------------------------------------

    @property
    def exact_token_count(self) -> bool:
        """Whether `count_tokens` uses the server's tokenizer (else it estimates from characters)."""
        if not self._tokenize_probed:
            self._server_tokenize("probe")
        return self._tokenize_url is not None

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        """Tokens of the conversation's text plus a fixed per-message overhead for the template."""
        text = "\n".join(
            f"{m.role}\n{m.content}" + "".join(c.arguments_json() for c in m.tool_calls) for m in messages
        )
        text += "".join(json.dumps(t.openai(), ensure_ascii=False) for t in tools)
        exact = self._server_tokenize(text)
        tokens = exact if exact is not None else -(-len(text) // CHARS_PER_TOKEN_ESTIMATE)
        return tokens + MESSAGE_OVERHEAD_TOKENS * len(messages)

    def _server_tokenize(self, text: str) -> int | None:
        """llama-server has `/tokenize`, llama_cpp.server `/extras/tokenize`; others have neither."""
        if self._tokenize_probed and self._tokenize_url is None:
            return None
        server = self._root.removesuffix("/v1")
        urls = (
            [self._tokenize_url]
            if self._tokenize_url
            else [f"{server}/tokenize", f"{server}/extras/tokenize"]
        )
        body = {"content": text, "input": text, "model": self._model}  # each server reads its own key
        for url in urls:
            try:
                response = self._client.post(url, json=body, headers=self._headers)
                tokens = response.json().get("tokens") if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError, AttributeError):
                tokens = None
            if isinstance(tokens, list):
                self._tokenize_url, self._tokenize_probed = url, True
                return len(tokens)
        self._tokenize_url, self._tokenize_probed = None, True
        return None

    # ---- chat --------------------------------------------------------------------------------

    def _payload(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": options.temperature,
            "max_tokens": options.max_tokens,
            "cache_prompt": True,  # llama.cpp servers keep the prompt's prefix in the KV cache
        }
        if self._template_kwargs:
            payload["chat_template_kwargs"] = self._template_kwargs
        if options.seed is not None:
            payload["seed"] = options.seed
        if options.stop:
            payload["stop"] = options.stop
        if options.min_p is not None:  # vLLM, SGLang and llama.cpp's server take it
            payload["min_p"] = options.min_p
        if tools and options.tool_choice != "none":
            payload["tools"] = [t.openai() for t in tools]
            payload["tool_choice"] = _tool_choice(options.tool_choice)
        return {k: v for k, v in payload.items() if k not in self._dropped}

    def _events(self, payload: dict[str, Any], deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """The stream's JSON events; an optional key the server rejects is dropped and retried once.
        With a `deadline` (time.monotonic()), no wait outlasts it: `DeadlineReached` then."""
        url = f"{self._root}/chat/completions"
        extra: dict[str, Any] = {}
        if deadline is not None:
            extra["timeout"] = httpx.Timeout(max(1.0, deadline - time.monotonic()), connect=10.0)
        try:
            with self._client.stream("POST", url, json=payload, headers=self._headers, **extra) as response:
                if response.status_code >= 400:
                    body = response.read().decode("utf-8", errors="replace")[:500]
                    rejected = [k for k in OPTIONAL_KEYS if k in payload and k in body]
                    if response.status_code == 400 and rejected:
                        self._dropped.update(rejected)
                        yield from self._events(
                            {k: v for k, v in payload.items() if k not in rejected}, deadline
                        )
                        return
                    raise EngineError(_status_fix(url, response.status_code, body))
                yield from _sse_events(response.iter_lines(), url)
        except httpx.TimeoutException as exc:
            if deadline is not None and time.monotonic() >= deadline - 1.0:
                raise DeadlineReached() from exc
            raise self._error("the chat request", exc) from exc
        except httpx.HTTPError as exc:
            raise self._error("the chat request", exc) from exc

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        stream = _Stream()
        try:
            for event in self._events(self._payload(messages, tools, options), options.deadline):
                yield from stream.feed(event)
        except DeadlineReached:
            usage = stream.measured(0)
            yield UsageEvent(usage=usage)
            message = Message(role="assistant", content=stream.text.strip(), thinking=stream.thinking)
            yield ChatDone(message=message, usage=usage, finish_reason="deadline")
            return
        if rest := stream.splitter.flush():
            yield TextDelta(text=rest)
        text, calls = stream.text, stream.calls.calls()
        if not calls and tools and options.tool_choice != "none":  # the server left calls in the text
            reply = (
                self.tool_format_parser.parse(text, tools)
                if self.tool_format_parser
                else parse_any(text, tools)
            )
            text, calls = reply.content, reply.calls
        for call in calls:
            yield ToolCallEvent(call=call)
        no_server_count = not stream.usage and not stream.timings
        usage = stream.measured(self.count_tokens(messages, tools) if no_server_count else 0)
        yield UsageEvent(usage=usage)
        message = Message(role="assistant", content=text.strip(), thinking=stream.thinking, tool_calls=calls)
        yield ChatDone(message=message, usage=usage, finish_reason="tool_calls" if calls else stream.finish)


def _sse_events(lines: Iterator[str], url: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments, `event:` and `id:` fields, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise EngineError(f"the server at {url} sent a malformed stream event: {data[:200]}") from exc
        if isinstance(event, dict) and event.get("error"):
            raise EngineError(f"the server at {url} failed mid-stream: {json.dumps(event['error'])[:500]}")
        if isinstance(event, dict):
            yield event


def _status_fix(url: str, status: int, body: str) -> str:
    hint = {
        401: "set the API key (the variable named by api_key_env, OPENAI_API_KEY by default)",
        403: "check that the API key may use this model",
        404: "check --base-url and --server-model",
    }.get(status, "check the request limits (context length, max_tokens) and the server log")
    return f"the server at {url} answered {status}: {body}. Fix: {hint}"
