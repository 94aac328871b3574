"""MCP client connections, run on one background event loop so the synchronous loop can call them.

The SDK is async; the agent loop is not. `LoopThread` owns an asyncio loop on a daemon thread, and
every request is submitted to it with a deadline (`LoopThread.run`), so nothing here blocks the agent
for longer than a server's timeout. Each `ServerConnection` keeps one long-lived task that enters the
SDK's transport (`stdio_client` or `streamable_http_client`) and `ClientSession`, and leaves them on
`close()`; tool calls are sent from short tasks on the same loop.

Errors (all `McpServerError`, each naming the server): a server that cannot start, answers nothing
within `startup_timeout` (its process is killed), crashes (the connection closes: the last lines
of its stderr are quoted), or does not answer a call within `tool_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from agent.mcp.config import McpServerConfig
from sandbox.env import scrubbed_env

T = TypeVar("T")
STDERR_TAIL_CHARS = 600
CLOSE_TIMEOUT = 5.0
SERVER_ENV = {"TMPDIR": "/tmp"}  # as for a sandboxed command: /tmp is the sandbox's own


class McpServerError(Exception):
    """An MCP server failed: did not start, crashed, or timed out. The message names the server."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message + (f"\nits stderr ends with:\n{stderr}" if stderr else ""))
        self.message = message
        self.stderr = stderr

    def with_note(self, note: str) -> str:
        """The message with `note` after the first line, before the server's stderr."""
        return f"{self.message}; {note}" + (f"\nits stderr ends with:\n{self.stderr}" if self.stderr else "")


class CommandWrapper(Protocol):
    """Turns a server's argv into one that runs inside the sandbox (bubblewrap), or leaves it as is."""

    def __call__(self, argv: Sequence[str], cwd: Path, network: bool) -> list[str]: ...


def no_wrapping(argv: Sequence[str], cwd: Path, network: bool) -> list[str]:
    return list(argv)


class LoopThread:
    """An asyncio event loop on its own daemon thread; `run` waits for a coroutine with a deadline."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()


class ServerConnection:
    """One configured server: started once, its tools listed, its calls sent, closed at the end."""

    def __init__(
        self, name: str, config: McpServerConfig, root: Path, wrap: CommandWrapper, loop: LoopThread
    ) -> None:
        self.name = name
        self.config = config
        self.root = root
        self.wrap = wrap
        self.loop = loop
        self.tools: list[Any] = []  # mcp_types.Tool
        self.failure: McpServerError | None = None  # set once the server is unusable
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stderr: IO[str] | None = None

    # ---- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect, initialize and list the tools within `startup_timeout`, else McpServerError."""
        timeout = self.config.startup_timeout
        try:
            self.loop.run(self._start(), timeout + CLOSE_TIMEOUT)
        except Exception as exc:
            self.failure = self._describe(exc, f"did not start within {timeout:g}s", "failed to start")
            self.close()
            raise self.failure from exc

    async def _start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.config.startup_timeout)
        except BaseException:
            ready.cancel()
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, CLOSE_TIMEOUT)
            raise

    async def _serve(self, ready: asyncio.Future[None]) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.tools = await self._list_tools(session)
                self._session = session
                ready.set_result(None)
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpServerError("cancelled"))
            elif self.failure is None and not isinstance(exc, asyncio.CancelledError):
                self.failure = self._describe(exc, "", "stopped")
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None

    def _transport(self) -> contextlib.AbstractAsyncContextManager[Any]:
        if self.config.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            if not self.config.headers:
                return streamable_http_client(self.config.url)
            import httpx2  # the SDK's HTTP client: headers go on it (the SDK's migration guide)

            client = httpx2.AsyncClient(headers=self.config.headers, timeout=httpx2.Timeout(30.0, read=300.0))
            return _with_client(client, streamable_http_client(self.config.url, http_client=client))
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        cwd = (self.root / self.config.cwd) if self.config.cwd else self.root
        assert self.config.command is not None
        argv = self.wrap([self.config.command, *self.config.args], cwd, self.config.network)
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        params = StdioServerParameters(
            command=argv[0],
            args=argv[1:],
            env={**scrubbed_env(overrides=SERVER_ENV), **self.config.env},
            cwd=str(cwd),
        )
        return stdio_client(params, errlog=self._stderr)

    @staticmethod
    async def _list_tools(session: Any) -> list[Any]:
        from mcp_types import PaginatedRequestParams

        result = await session.list_tools()
        tools = list(result.tools)
        while result.next_cursor:
            result = await session.list_tools(params=PaginatedRequestParams(cursor=result.next_cursor))
            tools.extend(result.tools)
        return tools

    def close(self) -> None:
        if self._task is None:
            self._close_stderr()
            return
        with contextlib.suppress(Exception):
            self.loop.run(self._close(), CLOSE_TIMEOUT * 2)
        self._task = None
        self._close_stderr()

    async def _close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, CLOSE_TIMEOUT)
            except (Exception, asyncio.CancelledError):
                self._task.cancel()

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # ---- calls --------------------------------------------------------------------------------

    def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        """The server's `CallToolResult`, or McpServerError (crashed, timed out, not running)."""
        if self.failure is not None:
            raise self.failure
        if self._session is None or self._task is None or self._task.done():
            self.failure = self._describe(None, "", "stopped")
            raise self.failure
        timeout = self.config.tool_timeout
        try:
            return self.loop.run(self._call(tool, arguments), timeout + CLOSE_TIMEOUT)
        except Exception as exc:
            if _is_timeout(exc):
                raise McpServerError(
                    f"MCP server '{self.name}' did not answer {tool} within {timeout:g}s (tool_timeout); "
                    "the call was abandoned"
                ) from exc
            if self._task.done() or self._session is None or _is_closed(exc):
                self.failure = self._describe(exc, "", "crashed")
                raise self.failure from exc
            raise McpServerError(f"MCP server '{self.name}': {tool} failed: {_message(exc)}") from exc

    async def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        session = self._session
        if session is None:
            raise McpServerError("connection closed")
        return await asyncio.wait_for(session.call_tool(tool, arguments), self.config.tool_timeout)

    # ---- messages -----------------------------------------------------------------------------

    def _describe(self, exc: BaseException | None, timed_out: str, what: str) -> McpServerError:
        if exc is not None and _is_timeout(exc) and timed_out:
            reason = timed_out + " (startup_timeout); its process was stopped"
        elif exc is not None:
            reason = f"{what}: {_message(exc)}"
        else:
            reason = what
        where = f" ({self.config.describe()})"
        return McpServerError(f"MCP server '{self.name}'{where} {reason}", self._stderr_tail())

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read()[-STDERR_TAIL_CHARS:].strip()
        except (OSError, ValueError):
            return ""


@contextlib.asynccontextmanager
async def _with_client(client: Any, transport: Any) -> Any:
    async with client, transport as streams:
        yield streams


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _is_timeout(exc: BaseException) -> bool:
    from mcp_types import REQUEST_TIMEOUT

    for leaf in _leaves(exc):
        if isinstance(leaf, TimeoutError) or getattr(leaf, "code", None) == REQUEST_TIMEOUT:
            return True
    return False


def _is_closed(exc: BaseException) -> bool:
    from mcp_types import CONNECTION_CLOSED

    return any(getattr(leaf, "code", None) == CONNECTION_CLOSED for leaf in _leaves(exc))


def _message(exc: BaseException) -> str:
    leaves = _leaves(exc)
    leaf = leaves[0] if leaves else exc
    text = getattr(leaf, "message", None) or str(leaf) or type(leaf).__name__
    return f"{type(leaf).__name__}: {text}" if not isinstance(leaf, McpServerError) else str(text)
