"""The MCP tools `ask` and `search`: what a model reads about them, their arguments and their results.

Imported only when `mcp_server` is on (it needs the `mcp` package). The arguments are checked as the
OpenAI API checks them (ui/openai_format.checked_question), and `ask` returns the same text and the
same `ask --json` object as that API: one serialisation for every door.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from assistant.settings import Settings
from ui.openai_format import ApiError, answer_content, checked_question

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.pipeline import Pipeline

SEARCH_MAX = 20  # passages one search returns at most

ASK_DESCRIPTION = (
    "Answer a question from the indexed news dispatches (French agency wires). The answer quotes sentences "
    "of the dispatches word for word, with [n] markers; after it, each source [n] gives the dispatch's "
    "title, date and agency and the exact quote. When the dispatches do not answer the question, the tool "
    "says so instead of guessing: that is a normal result, not an error. Ask in French or English; the "
    "answer follows the question's language. For a follow-up (\"And the Kremlin?\"), pass the earlier "
    "questions of the conversation in `history`. The structured result is the answer object of "
    "`dispatch-qa ask --json`: `answer`, `abstained`, and `citations` (doc_id, start, end, quote, title, "
    "date, source), where quote is the dispatch's text[start:end].")
SEARCH_DESCRIPTION = (
    "Search the indexed news dispatches (French agency wires) and return the best-matching passages, "
    "ranked by keyword and semantic similarity: each with its dispatch's doc_id, title, date and agency, "
    "the passage's text, its offsets in the dispatch and its score. Use it to see what the dispatches say "
    "on a subject or to find dispatches; use `ask` for an answer with quotes.")

Question = Annotated[str, Field(description="The question, in French or English.")]
Query = Annotated[str, Field(description="What to look for: words, names or a question, in French or English.")]
DateFrom = Annotated[str | None, Field(
    description="Only dispatches dated on or after this date: YYYY, YYYY-MM or YYYY-MM-DD.")]
DateTo = Annotated[str | None, Field(
    description="Only dispatches dated on or before this date: YYYY, YYYY-MM or YYYY-MM-DD.")]
Sources = Annotated[list[str] | None, Field(
    description="Only dispatches from these agencies (e.g. [\"AFP\"]); empty for all.")]
History = Annotated[list[str] | None, Field(
    description="The conversation's earlier questions, oldest first, so that a follow-up keeps its subject.")]
TopK = Annotated[int, Field(ge=1, le=SEARCH_MAX, description=f"How many passages to return (1 to {SEARCH_MAX}).")]

EMPTY_INDEX = "The index is empty: index dispatches first (`dispatch-qa index FOLDER`)."


def add_tools(server: MCPServer, pipeline: Pipeline, settings: Settings) -> None:
    """Register `ask` and `search` on `server`, answering from `pipeline`."""
    run = Answering(settings.queue_concurrency)

    async def ask(question: Question, date_from: DateFrom = None, date_to: DateTo = None,
                  sources: Sources = None, history: History = None) -> CallToolResult:
        from assistant.pipeline import QueryFilters

        request = _checked(question, date_from, date_to, sources, history)
        filters = QueryFilters(request.date_from, request.date_to, request.sources)
        answer = await run(pipeline, lambda: pipeline.ask(request.question, filters=filters,
                                                          history=request.history).to_dict())
        return CallToolResult(content=[TextContent(type="text", text=answer_content(answer))],
                              structured_content=answer)

    async def search(query: Query, top_k: TopK = 5, date_from: DateFrom = None, date_to: DateTo = None,
                     sources: Sources = None) -> CallToolResult:
        from assistant.pipeline import QueryFilters

        request = _checked(query, date_from, date_to, sources, None)
        filters = QueryFilters(request.date_from, request.date_to, request.sources)
        passages = await run(pipeline, lambda: pipeline.search(request.question, filters, top_k))
        return CallToolResult(content=[TextContent(type="text", text=passages_text(passages))],
                              structured_content={"query": request.question, "passages": passages})

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)
    server.add_tool(ask, name="ask", title="Ask the dispatches", description=ASK_DESCRIPTION,
                    annotations=read_only)
    server.add_tool(search, name="search", title="Search the dispatches", description=SEARCH_DESCRIPTION,
                    annotations=read_only)


class Answering:
    """Runs the pipeline in a worker thread, `queue_concurrency` calls at a time (as the chat's queue and
    the /v1 API do); an empty index and the pipeline's own refusals become tool errors."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._limiter: anyio.CapacityLimiter | None = None  # made on the server's event loop

    async def __call__(self, pipeline: Pipeline, work: Callable[[], Any]) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        if await anyio.to_thread.run_sync(pipeline.is_empty):
            raise ToolError(EMPTY_INDEX)
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        except ValueError as exc:  # the pipeline's refusal of a question or a filter
            raise ToolError(str(exc)) from None


def _checked(question: str, date_from: str | None, date_to: str | None, sources: list[str] | None,
             history: list[str] | None) -> Any:
    """The OpenAI API's checks; a refusal becomes a tool error naming the argument."""
    try:
        return checked_question(question, date_from, date_to, sources, history)
    except ApiError as exc:
        named = not exc.param or exc.param == "messages" or exc.param in exc.message
        raise ToolError(exc.message if named else f"{exc.param}: {exc.message}") from None


def passages_text(passages: list[dict[str, Any]]) -> str:
    """What a model reads of a search: one numbered entry per passage (title — date — agency, score), then
    the passage's text with its whitespace folded."""
    if not passages:
        return "No passage matches."
    entries = []
    for rank, p in enumerate(passages, 1):
        meta = " — ".join(" ".join(str(v).split()) for v in (p["title"] or p["doc_id"], p["date"] or "undated",
                                                             p["source"] or "agency not stated"))
        entries.append(f"[{rank}] {meta} (doc_id {p['doc_id']}, score {p['score']})\n{' '.join(p['text'].split())}")
    return "\n\n".join(entries)
