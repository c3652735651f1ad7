"""The optional MCP server (`mcp_server`, off by default): the `ask` and `search` tools at `/mcp`.

MCP clients (Claude Desktop, editors, agents) reach it by streamable HTTP on the web chat's own server
and port. It is built with the official `mcp` SDK rather than Gradio's own MCP server, whose extra
installs mcp 1.x and downgrades the pydantic that Chroma, FastAPI and Gradio share (docs/notes/mcp.md).

Behind the chat's Guard (Host and Origin checks), its door is the OpenAI API's: the same bearer token
(`api_key`, ui/api_key.py), the same body limit (`api_max_request_bytes`) and rate limit
(`api_rate_limit`). The tools live in ui/mcp_tools.py.

`mount(options, pipeline, settings)` adds the route and the SDK's session manager (run by the app's
lifespan) to `launch()`'s options, as ui/openai_api.py adds /v1.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.settings import Settings, SettingsError
from ui.api_key import BearerKey
from ui.rate_limit import RateLimiter

if TYPE_CHECKING:
    from assistant.pipeline import Pipeline

PATH = "/mcp"
INSTALL_HINT = "`pip install 'dispatch-qa[mcp]'` or `pip install mcp==2.3.0`"
INSTRUCTIONS = ("Dispatch QA answers questions from a collection of news dispatches (French agency wires), "
                "quoting them word for word. Call `ask` for a quoted answer and `search` for passages.")


def missing_package_problem(settings: Settings) -> str | None:
    """Why `mcp_server = true` cannot be served here (the `mcp` package is not installed), else None."""
    if settings.mcp_server and importlib.util.find_spec("mcp") is None:
        return (f"mcp_server is on but the `mcp` package is not installed: run {INSTALL_HINT}, "
                "or turn it off (--no-mcp-server, DISPATCH_QA_MCP_SERVER=false)")
    return None


def mount(options: dict[str, Any], pipeline: Pipeline, settings: Settings) -> dict[str, Any]:
    """`launch()`'s options with `/mcp` added when `mcp_server` is on (unchanged when off)."""
    if not settings.mcp_server:
        return options
    problem = missing_package_problem(settings)
    if problem:
        raise SettingsError(problem)
    handler, lifespan = streamable_http(pipeline, settings)
    door = McpDoor(handler, settings)
    app_kwargs = dict(options.get("app_kwargs") or {})
    app_kwargs["routes"] = [*app_kwargs.get("routes", []), Route(PATH, endpoint=door), Route(PATH + "/", endpoint=door)]
    app_kwargs["lifespan"] = _chained(app_kwargs.get("lifespan"), lifespan)
    return {**options, "app_kwargs": app_kwargs}


def streamable_http(pipeline: Pipeline, settings: Settings) -> tuple[ASGIApp, Callable[[Any], Any]]:
    """The SDK's streamable-HTTP handler for our tools, and the lifespan that runs its session manager.

    Stateless, JSON responses: each request stands alone, so several `serve` workers behind one
    address answer any of them, and no session outlives a request. The Guard already checks Host
    and Origin (with `allowed_hosts`), so the SDK's own check, which knows only loopback names, is off.
    """
    from mcp.server.mcpserver import MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings

    from ui.mcp_tools import add_tools

    server = MCPServer("dispatch-qa", title="Dispatch QA", instructions=INSTRUCTIONS, log_level="WARNING")
    add_tools(server, pipeline, settings)
    server.streamable_http_app(
        stateless_http=True, json_response=True, max_request_body_size=settings.api_max_request_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    manager = server.session_manager

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return StreamableHTTPASGIApp(manager), lifespan


class McpDoor:
    """The ASGI app at /mcp: rate limit, POST only, then the bearer key, then the SDK's handler."""

    def __init__(self, handler: ASGIApp, settings: Settings) -> None:
        self.handler = handler
        self.key = BearerKey(settings)
        self.limiter = RateLimiter(settings.api_rate_limit)
        self.rate_limit = settings.api_rate_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        client = scope.get("client")
        wait = self.limiter.allow(client[0] if client else "unknown")
        if wait:
            retry = str(math.ceil(wait))
            response = JSONResponse({"error": f"Rate limit reached: {self.rate_limit} requests per minute; "
                                              f"retry in {retry} s."}, status_code=429, headers={"Retry-After": retry})
            return await response(scope, receive, send)
        if scope["method"] != "POST":
            # Stateless: there is nothing to push on a GET stream, which would only hold a connection open.
            response = JSONResponse({"error": "Use POST for /mcp (streamable HTTP, stateless: no GET stream)."},
                                    status_code=405, headers={"Allow": "POST"})
            return await response(scope, receive, send)
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        refusal = self.key.refusal(authorization)
        if refusal:
            response = JSONResponse({"error": refusal}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        await self.handler(scope, receive, send)


def _chained(first: Callable[[Any], Any] | None, second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One lifespan running `first` (when there is one) around `second`."""
    if first is None:
        return second

    @contextlib.asynccontextmanager
    async def both(app: Any) -> AsyncIterator[None]:
        async with first(app), second(app):
            yield

    return both
