"""The OpenAI-compatible API (`/v1/models`, `/v1/chat/completions`) on the web chat's own server.

Clients that speak the OpenAI API (the `openai` package, Open WebUI, LibreChat, editors) ask the
assistant as if it were a model named `dispatch-qa`. It runs behind the same Guard as the chat
(Host and Origin checks), but with its own door: a bearer token (`api_key`), a body size limit and
a per-client rate limit. The wire format lives in ui/openai_format.py.

`mount(options, pipeline, settings)` adds it to `launch()`'s options: Gradio passes `app_kwargs`
to the FastAPI app it builds, whose first routes are then ours.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from assistant.settings import Settings, SettingsError
from ui.api_key import BearerKey, api_key_problem
from ui.openai_format import (
    MODEL_ID,
    ApiError,
    ChatRequest,
    bad_request,
    chunk,
    completion,
    model_object,
    parse_chat_request,
    stream_chunks,
)
from ui.rate_limit import RateLimiter

if TYPE_CHECKING:
    from assistant.pipeline import Pipeline

log = logging.getLogger("dispatch_qa.api")

PREFIX = "/v1"
_MODEL_RE = re.compile(r"^/models/([^/]+)/?$")


def mount(options: dict[str, Any], pipeline: Pipeline, settings: Settings) -> dict[str, Any]:
    """`launch()`'s options with the API's routes added; SettingsError when the bind needs a key."""
    problem = api_key_problem(settings)
    if problem:
        raise SettingsError(problem)
    app_kwargs = dict(options.get("app_kwargs") or {})
    app_kwargs["routes"] = [*app_kwargs.get("routes", []), Mount(PREFIX, app=OpenAIApi(pipeline, settings))]
    return {**options, "app_kwargs": app_kwargs}


class OpenAIApi:
    """The ASGI app mounted at /v1."""

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.key = BearerKey(settings)
        self.limiter = RateLimiter(settings.api_rate_limit)
        self.created = int(time.time())
        self._answering: anyio.CapacityLimiter | None = None  # made on the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            response = await self.handle(Request(scope, receive))
        except ApiError as exc:
            response = error_response(exc)
        except ClientDisconnect:
            return
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        wait = self.limiter.allow(request.client.host if request.client else "unknown")
        if wait:
            raise ApiError(429, f"Rate limit reached: {self.settings.api_rate_limit} requests per minute; "
                                f"retry in {math.ceil(wait)} s.", kind="rate_limit_error", code="rate_limit_exceeded",
                           headers={"Retry-After": str(math.ceil(wait))})
        self.authenticate(request)
        path = request.url.path
        route = path[path.index(PREFIX) + len(PREFIX):] if PREFIX in path else path
        if route.rstrip("/") == "/models":
            self.expect(request, "GET")
            return JSONResponse({"object": "list", "data": [model_object(self.created)]})
        model = _MODEL_RE.match(route)
        if model:
            self.expect(request, "GET")
            if model.group(1) != MODEL_ID:
                raise ApiError(404, f"The model '{model.group(1)[:100]}' does not exist: this server has "
                                    f"'{MODEL_ID}'.", param="model", code="model_not_found")
            return JSONResponse(model_object(self.created))
        if route.rstrip("/") == "/chat/completions":
            self.expect(request, "POST")
            return await self.chat(parse_chat_request(await self.read_json(request)))
        raise ApiError(404, f"Unknown API route {path[:200]}: this server answers GET /v1/models and "
                            "POST /v1/chat/completions.", code="unknown_url")

    def authenticate(self, request: Request) -> None:
        refusal = self.key.refusal(request.headers.get("authorization", ""))
        if refusal:
            raise ApiError(401, refusal, code="invalid_api_key")

    @staticmethod
    def expect(request: Request, method: str) -> None:
        if request.method != method:
            raise ApiError(405, f"Use {method} for {request.url.path}.", code="method_not_allowed")

    async def read_json(self, request: Request) -> Any:
        """The body, refused (413) past api_max_request_bytes whether or not Content-Length says so."""
        limit = self.settings.api_max_request_bytes
        too_large = ApiError(413, f"Request body larger than {limit} bytes (api_max_request_bytes).",
                             code="request_too_large")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise too_large
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from None

    async def chat(self, request: ChatRequest) -> Response:
        if await run_in_threadpool(self.pipeline.is_empty):
            raise ApiError(503, "The index is empty: index dispatches first (`dispatch-qa index FOLDER`).",
                           kind="server_error", code="empty_index")
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if not request.stream:
            answer = await self.answer(request)
            return JSONResponse(completion(answer, completion_id, created))
        return StreamingResponse(self.events(request, completion_id, created), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def events(self, request: ChatRequest, completion_id: str, created: int) -> AsyncIterator[str]:
        """Server-sent events: the role at once, then the answer's deltas, the citations, [DONE].

        The deltas are cut from the final, verified answer: a language model's draft can lose
        sentences or have its markers renumbered by verification, and a stream cannot take back
        text it has sent."""
        yield sse(chunk(completion_id, created, {"role": "assistant", "content": ""}))
        try:
            answer = await self.answer(request)
        except ApiError as exc:
            yield sse(exc.body())
            return
        for event in stream_chunks(answer, completion_id, created):
            yield sse(event)
        yield "data: [DONE]\n\n"

    async def answer(self, request: ChatRequest) -> dict[str, Any]:
        try:
            if self._answering is None:  # questions answered at once, as in the chat's queue
                self._answering = anyio.CapacityLimiter(self.settings.queue_concurrency)
            return await anyio.to_thread.run_sync(self.ask, request, limiter=self._answering)
        except ValueError as exc:  # the pipeline's own refusal of a question or a filter
            raise bad_request(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - reported in OpenAI's shape, logged in full
            log.exception("answering %r failed", request.question)
            raise ApiError(500, f"The assistant failed to answer: {exc or type(exc).__name__}",
                           kind="server_error", code="internal_error") from None

    def ask(self, request: ChatRequest) -> dict[str, Any]:
        from assistant.pipeline import QueryFilters

        filters = QueryFilters(request.date_from, request.date_to, request.sources)
        return self.pipeline.ask(request.question, filters=filters, history=request.history).to_dict()


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_response(error: ApiError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    return JSONResponse(error.body(), status_code=error.status, headers={**headers, **error.headers})
