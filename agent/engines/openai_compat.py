"""An engine for any OpenAI-compatible `/v1/chat/completions` server (vLLM, SGLang, llama-server,
ollama, llama_cpp.server): streaming over SSE, native `tools`, and our own parsing of
`<tool_call>` text when a server leaves calls in the content.

`base_url` may end with or without `/v1`: `http://host:8000` and `http://host:8000/v1` both work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from agent.engine import ChatOptions, EngineError
from agent.events import ChatDone, EngineEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage, UsageEvent
from agent.messages import Message, ToolCall, ToolSpec
from agent.toolcalls import OPEN, StreamSplitter, parse_tool_calls


def api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root if root.endswith("/v1") else root + "/v1"


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
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
    """Servers differ: most send the name once, some repeat it whole in every chunk."""
    if not current or piece.startswith(current):
        return piece or current
    return current if piece == current else current + piece


class _CallAccumulator:
    """Streamed `delta.tool_calls` pieces, joined by index."""

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, str]] = {}

    def feed(self, deltas: list[dict[str, Any]]) -> None:
        for delta in deltas:
            part = self.parts.setdefault(
                int(delta.get("index", len(self.parts))), {"id": "", "name": "", "args": ""}
            )
            part["id"] = delta.get("id") or part["id"]
            function = delta.get("function") or {}
            part["name"] = _join_name(part["name"], function.get("name") or "")
            part["args"] += function.get("arguments") or ""

    def calls(self) -> list[ToolCall]:
        out = []
        for index, part in sorted(self.parts.items()):
            call_id = part["id"] or f"call_{index}"
            try:
                arguments = json.loads(part["args"]) if part["args"].strip() else {}
                if not isinstance(arguments, dict):
                    raise ValueError("arguments must be a JSON object")
                out.append(ToolCall(id=call_id, name=part["name"], arguments=arguments))
            except ValueError as exc:
                out.append(
                    ToolCall(
                        id=call_id,
                        name=part["name"],
                        raw_arguments=part["args"],
                        parse_error=f"arguments are not valid JSON: {exc}",
                    )
                )
        return out


class OpenAICompatEngine:
    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        context_length: int = 32768,
    ) -> None:
        self._client = client
        self._root = api_root(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._context_length = context_length
        self._tokenize_url: str | bool | None = None  # None: not probed yet; False: not available
        self.exact_token_count = False

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

    def _discover_model(self) -> str:
        try:
            response = self._client.get(f"{self._root}/models", headers=self._headers)
            response.raise_for_status()
            models = response.json().get("data", [])
        except (httpx.HTTPError, ValueError) as exc:
            raise self._error("listing models", exc) from exc
        if not models:
            raise EngineError(f"the server at {self._root} serves no model; pass --server-model NAME")
        return str(models[0]["id"])

    def _error(self, doing: str, exc: Exception) -> EngineError:
        return EngineError(
            f"{doing} at {self._root} failed: {exc}. Check that the server is running and "
            "--base-url is right (e.g. http://localhost:8000/v1)"
        )

    # ---- tokens ------------------------------------------------------------------------------

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        text = "\n".join(m.content + "".join(c.arguments_json() for c in m.tool_calls) for m in messages)
        text += "".join(json.dumps(t.openai()) for t in tools)
        exact = self._server_tokenize(text)
        self.exact_token_count = exact is not None
        return exact + 8 * len(messages) if exact is not None else len(text) // 3 + 8 * len(messages)

    def _server_tokenize(self, text: str) -> int | None:
        """llama.cpp servers expose a tokenizer; others do not (then we estimate)."""
        if self._tokenize_url is False:
            return None
        server = self._root.removesuffix("/v1")
        candidates = (
            [self._tokenize_url]
            if isinstance(self._tokenize_url, str)
            else [f"{server}/tokenize", f"{server}/extras/tokenize"]
        )
        for url in candidates:
            try:
                response = self._client.post(
                    url, json={"content": text, "input": text, "model": self._model}, headers=self._headers
                )
                if response.status_code == 200:
                    tokens = response.json().get("tokens")
                    if isinstance(tokens, list):
                        self._tokenize_url = url
                        return len(tokens)
            except (httpx.HTTPError, ValueError):
                continue
        self._tokenize_url = False
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
            "cache_prompt": True,  # llama.cpp servers keep the prefix in the KV cache
        }
        if options.seed is not None:
            payload["seed"] = options.seed
        if options.stop:
            payload["stop"] = options.stop
        if tools and options.tool_choice != "none":
            payload["tools"] = [t.openai() for t in tools]
            payload["tool_choice"] = _tool_choice(options.tool_choice)
        return payload

    def _events(self, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url = f"{self._root}/chat/completions"
        try:
            with self._client.stream("POST", url, json=payload, headers=self._headers) as response:
                if response.status_code >= 400:
                    body = response.read().decode("utf-8", errors="replace")[:500]
                    raise EngineError(f"the server at {url} answered {response.status_code}: {body}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        yield json.loads(data)
                    except json.JSONDecodeError as exc:
                        raise EngineError(f"the server sent a malformed stream event: {data[:200]}") from exc
        except httpx.HTTPError as exc:
            raise self._error("the chat request", exc) from exc

    def chat(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Iterator[EngineEvent]:
        started = time.monotonic()
        first_at: float | None = None
        text, thinking, finish = "", "", "stop"
        splitter = StreamSplitter()
        accumulator = _CallAccumulator()
        server_usage: dict[str, Any] = {}
        chunks = 0
        for event in self._events(self._payload(messages, tools, options)):
            chunks += 1
            if event.get("usage"):
                server_usage = event["usage"]
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                if first_at is None and (delta.get("content") or delta.get("tool_calls")):
                    first_at = time.monotonic()
                if delta.get("reasoning_content"):
                    thinking += delta["reasoning_content"]
                    yield ThinkingDelta(text=delta["reasoning_content"])
                if delta.get("content"):
                    text += delta["content"]
                    shown = splitter.feed(delta["content"])
                    if shown:
                        yield TextDelta(text=shown)
                if delta.get("tool_calls"):
                    accumulator.feed(delta["tool_calls"])
                finish = choice.get("finish_reason") or finish
        rest = splitter.flush()
        if rest:
            yield TextDelta(text=rest)
        calls = accumulator.calls()
        if not calls and OPEN in text:
            text, calls = parse_tool_calls(text)
        for call in calls:
            yield ToolCallEvent(call=call)
        if not server_usage:  # some servers ignore stream_options: count what we can ourselves
            server_usage = {"prompt_tokens": self.count_tokens(messages, tools), "completion_tokens": chunks}
        usage = self._usage(server_usage, started, first_at)
        yield UsageEvent(usage=usage)
        message = Message(role="assistant", content=text.strip(), thinking=thinking, tool_calls=calls)
        yield ChatDone(message=message, usage=usage, finish_reason="tool_calls" if calls else finish)

    @staticmethod
    def _usage(server: dict[str, Any], started: float, first_at: float | None) -> Usage:
        ended = time.monotonic()
        prompt = int(server.get("prompt_tokens") or 0)
        cached = int((server.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        return Usage(
            prompt_tokens=prompt,
            prefilled_tokens=prompt - cached,
            cached_tokens=cached,
            generated_tokens=int(server.get("completion_tokens") or 0),
            prefill_seconds=round((first_at or ended) - started, 4),
            decode_seconds=round(ended - (first_at or ended), 4),
        )
