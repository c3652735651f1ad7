"""The web chat (Gradio): ask with cited answers, read the cited passage, manage the library.

Callbacks only delegate: questions and indexing go to the Pipeline, markup comes from
ui/render.py. `build_app` builds the Blocks without launching; `serve` is the CLI's entry.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.settings import Settings, SettingsError
from ui import filters, guard, mcp_server, openai_api, render
from ui.checks import HISTORY_MAX, RequestProblem, ask_arguments
from ui.guard import is_loopback, parse_auth
from ui.i18n import DEFAULT_LANGUAGE, LOAD_LANGUAGE_JS, SWITCH_LANGUAGE_JS, gradio_i18n, label, text, ui_language
from ui.layout import ChatTab, LibraryTab, chat_tab, dispatch_placeholder, header, library_tab
from ui.library import UPLOAD_SUFFIXES
from ui.library_actions import LIBRARY_VIEWS, LibraryCallbacks
from ui.library_view import selected_html
from ui.stream import accumulate, answer_events
from ui.theme import CSS, theme
from ui.theme_core import CORE_CSS
from ui.timeline import timeline_html, timeline_tab
from ui.versions import versions_diff_html

if TYPE_CHECKING:
    from assistant.pipeline import Pipeline

log = logging.getLogger("dispatch_qa.ui")

EXAMPLES = [
    "Que demande Poutine pour un cessez-le-feu ?",
    "Que dit Zelensky de la situation dans la région de Koursk ?",
    "What did Donald Trump ask Vladimir Putin to do?",
]
REFRESH_SECONDS = 3.0  # how soon an index changed by the CLI shows in an open page


# -- callbacks (methods of one object, testable without a browser) -------------------------

class ChatCallbacks(LibraryCallbacks):
    """Every handler of the web chat; each one delegates to the Pipeline and to the pure renderers
    (ui/render.py, ui/filters.py, ui/library_view.py). The library's are in ui/library_actions.py.

    The method names of the Gradio events are their (private) api names: tests and the guard's
    tests address `respond`, `on_upload`, `on_reindex` and `on_delete` by name.
    `lang` is the interface language (ui/i18n.py); answers follow their question's language.
    """

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.library_dir = settings.library_dir
        self._documents = None

    # chat --------------------------------------------------------------------------------------
    def respond(self, question: str, turns: list[dict[str, Any]] | None, date_from: str = "", date_to: str = "",
                sources: list[str] | None = None, lang: str = "en", standalone: bool = False):
        """Generator: (transcript html, sources html, turns, question box, filter chips) as the answer streams in.

        `standalone`: answer without the earlier turns (the user overruled a follow-up reading)."""
        from assistant.language import question_language
        from assistant.pipeline import QueryFilters

        question = question.strip() if isinstance(question, str) else ""
        turns = [dict(t) for t in (turns or [])]
        chips = filters.chips_html(date_from, date_to, sources, lang)
        if not question:
            yield transcript(turns, lang), _skip(), turns, "", chips
            return
        problem = filters.filter_problem(date_from, date_to, lang)
        if problem:  # said beside the filters; the question stays in the box, to send once they are fixed
            yield _skip(), _skip(), turns, _skip(), chips + render_problem(problem)
            return
        q_lang = question_language(question)
        history = [] if standalone else [t["question"] for t in turns if t.get("answer") is not None][-HISTORY_MAX:]
        turn: dict[str, Any] = {"question": question, "language": q_lang, "partial": "", "answer": None,
                                "error": None, "scope": ""}
        turns.append(turn)
        index = len(turns) - 1
        turn["error"] = self._precheck(q_lang, question, date_from, date_to, sources)
        if turn["error"]:
            yield transcript(turns, lang), _skip(), turns, _skip(), chips
            return
        turn["scope"] = filters.filters_sentence(date_from, date_to, sources, q_lang)  # "Parmi les dépêches de …"
        yield transcript(turns, lang), _skip(), turns, "", chips
        query = QueryFilters((date_from or "").strip() or None, (date_to or "").strip() or None,
                             filters.query_sources(sources))
        try:
            for text_so_far, answer in accumulate(answer_events(self.pipeline, question, query, history)):
                if answer is None:
                    turn["partial"] = text_so_far
                    yield transcript(turns, lang), _skip(), turns, _skip(), _skip()
                else:
                    turn["answer"] = answer.to_dict()
        except Exception as exc:  # noqa: BLE001 - shown to the user in their language, logged in full
            log.exception("answering %r failed", question)
            turn["error"] = render.t(q_lang, "error", detail=str(exc) or type(exc).__name__)
            yield transcript(turns, lang), _skip(), turns, _skip(), _skip()
            return
        yield transcript(turns, lang), render.sources_html(turn["answer"], index), turns, _skip(), _skip()

    def _precheck(self, lang: str, question: str, date_from: Any, date_to: Any, sources: Any) -> str | None:
        try:
            ask_arguments(question, date_from, date_to, sources)
        except RequestProblem as exc:
            return str(exc)
        if self.pipeline.is_empty():
            return render.t(lang, "empty_index")
        return None

    def citation(self, turns: list[dict[str, Any]], turn_index: int, kind: str, ref: int,
                 other: str | None = None) -> tuple[str, str] | None:
        """(sources panel, dispatch view) for a clicked marker or card, or with `other` (a version's
        doc id) the sentences changed between that version and the cited dispatch; None when stale."""
        if turn_index < 0:
            return None
        try:
            answer = turns[turn_index]["answer"]
            if kind == "related":
                cited = answer["related"][ref]
            else:
                cited = next(c for c in answer["citations"] if c["marker"] == ref)
        except (IndexError, KeyError, TypeError, StopIteration):
            return None
        lang = answer.get("language") or "fr"
        panel = render.sources_html(answer, turn_index, active=(kind, ref))
        if other:
            return panel, versions_diff_html(self.pipeline.document, cited, other, lang)
        return panel, render.dispatch_html(self.pipeline.document(cited["doc_id"]), cited, lang)

    def ask_example(self, turns: list[dict[str, Any]] | None, date_from: str, date_to: str,
                    sources: list[str] | None, lang: str, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
        """A clicked example question (the transcript's `example` event)."""
        yield from self.respond(event_field(evt, "text", ""), turns, date_from, date_to, sources, lang)

    def ask_standalone(self, turns: list[dict[str, Any]] | None, date_from: str, date_to: str,
                       sources: list[str] | None, lang: str, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
        """The same words again, as a new question (the follow-up reading overruled)."""
        yield from self.respond(event_field(evt, "text", ""), turns, date_from, date_to, sources, lang,
                                standalone=True)

    def show_citation(self, turns: list[dict[str, Any]], evt: gr.EventData) -> tuple[Any, Any]:
        """A clicked citation marker or card (the `cite` event): the sources panel and the dispatch."""
        try:
            got = self.citation(turns, int(event_field(evt, "turn", -1)), str(event_field(evt, "kind", None)),
                                int(event_field(evt, "ref", -1)), event_field(evt, "other", None) or None)
        except (TypeError, ValueError):
            got = None
        return got if got is not None else (gr.skip(), gr.skip())

    @staticmethod
    def new_chat(lang: str = "en") -> tuple[list, str, str, str]:
        """An empty conversation (also emptied in the browser's storage: `turns` is a BrowserState)."""
        return [], transcript([], lang), render.sources_html(None, 0, lang), dispatch_placeholder(lang)

    @staticmethod
    def chips(date_from: str, date_to: str, sources: list[str] | None, lang: str) -> str:
        return filters.chips_html(date_from, date_to, sources, lang)

    def on_load(self, tag: str, turns: list[dict[str, Any]] | None, query: str) -> tuple[Any, ...]:
        """The page opened (or reloaded): its interface language, the conversation kept by this
        browser (an answer cut by the reload is dropped), and every view drawn in that language."""
        lang = ui_language(tag)
        kept = [t for t in (turns or []) if isinstance(t, dict) and (t.get("answer") is not None or t.get("error"))]
        last = next((i for i in range(len(kept) - 1, -1, -1) if kept[i].get("answer")), None)
        sources = render.sources_html(kept[last]["answer"], last) if last is not None else \
            render.sources_html(None, 0, lang)
        # Tab names are drawn once by Gradio: set again in case the stored choice is not the browser's language.
        tabs = tuple(gr.Tab(label=text(lang, key)) for key in ("tab_chat", "tab_library", "tab_timeline"))
        return (lang, kept, transcript(kept, lang), sources, dispatch_placeholder(lang),
                selected_html(None, lang), timeline_html(None, lang=lang), *tabs, *self.library_views(query, lang))

    # API -----------------------------------------------------------------------------------------
    def api_ask(self, question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
                history: list[str] | None = None) -> dict[str, Any]:
        from assistant.pipeline import QueryFilters

        question, date_from, date_to, sources, history = ask_arguments(question, date_from, date_to, sources, history)
        query = QueryFilters(date_from or None, date_to or None, tuple(sources))
        return self.pipeline.ask(question, filters=query, history=history).to_dict()

    # The three public endpoints (gradio_client): their docstrings and hints are the API's description.
    def ask_endpoint(self, question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
                     history: list[str] | None = None) -> dict:
        """Answer a question from the indexed dispatches. Returns the answer JSON (schema_version 1):
        answer, abstained, citations (quote == text[start:end] of the cited dispatch), related, timings_ms."""
        try:
            return self.api_ask(question, date_from, date_to, sources, history)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def index_status(self) -> dict:
        """What is indexed: documents, chunks, embedding model, store mode and location, last indexing time."""
        return self.pipeline.status()

    def all_documents(self) -> list:
        """Every indexed dispatch: doc_id, title, date, source, language, chunks, source_path."""
        return self.pipeline.documents()


def transcript(turns: list[dict[str, Any]], lang: str) -> str:
    """The conversation, or the welcome with example questions in the interface language."""
    return render.transcript_html(turns, EXAMPLES) if turns else render.empty_chat_html(EXAMPLES, lang)


def render_problem(message: str) -> str:
    return f'<div class="dq-filter-problem" role="alert">{render.esc(message)}</div>'


def event_field(evt: gr.EventData, name: str, default: Any) -> Any:
    """One field of a custom event's data: `trigger('cite', {turn, ref, kind})` or
    `trigger('example', {text})` in ui/theme.py's CLICKS_JS.

    Attribute access is Gradio's public way to read it (EventData.__getattr__ looks the name up in
    the event's data). An event sent with no data (null) makes that lookup raise TypeError, not
    AttributeError, so getattr's default alone does not cover it.
    """
    try:
        return getattr(evt, name, default)
    except TypeError:
        return default


def _skip() -> Any:
    return gr.skip()


# -- the Blocks: layout, then wiring; nothing here reads the index (demo.load fills the views) -----

# Event options: private (no api name callable from outside), and who may run at once. Reads are
# unlimited; every writer shares one slot, so two indexing runs never wait on the lock together.
_PRIVATE: dict[str, Any] = {"api_visibility": "private"}
_CHEAP: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": None}
_WRITER: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1, "concurrency_id": "index"}


def _wire_chat(cb: ChatCallbacks, chat: ChatTab, turns: Any, lang: gr.State) -> None:
    filter_inputs = [chat.date_from, chat.date_to, chat.sources]
    answer_views = [chat.transcript, chat.sources_panel, turns, chat.question, chat.chips]
    asked = [chat.question, turns, *filter_inputs, lang]
    chat.question.submit(cb.respond, inputs=asked, outputs=answer_views, **_PRIVATE)
    chat.send.click(cb.respond, inputs=asked, outputs=answer_views, **_PRIVATE)
    chat.transcript.example(cb.ask_example, inputs=[turns, *filter_inputs, lang], outputs=answer_views, **_PRIVATE)
    chat.transcript.standalone(cb.ask_standalone, inputs=[turns, *filter_inputs, lang], outputs=answer_views,
                               **_PRIVATE)
    for panel in (chat.transcript, chat.sources_panel):
        panel.cite(cb.show_citation, inputs=[turns], outputs=[chat.sources_panel, chat.dispatch], **_CHEAP)
    chat.new_chat.click(cb.new_chat, inputs=[lang], outputs=[turns, chat.transcript, chat.sources_panel, chat.dispatch],
                        **_CHEAP)
    for box in filter_inputs:
        box.change(cb.chips, inputs=[*filter_inputs, lang], outputs=[chat.chips], show_progress="hidden", **_CHEAP)


def _wire_library(cb: ChatCallbacks, library: LibraryTab, views: list[Any], seen_generation: gr.State,
                  lang: gr.State) -> None:
    search = library.search
    selected_id = gr.State("")
    refused = gr.State([])  # files the upload box dropped for their type, until the upload's summary
    library.summary.refused(cb.on_refused, inputs=[lang], outputs=[library.summary, refused], **_CHEAP)
    library.upload.upload(cb.on_upload, inputs=[library.upload, search, lang, refused],
                          outputs=[library.summary, library.upload, refused, *views], **_WRITER)
    library.reindex.click(cb.on_reindex, inputs=[search, lang], outputs=[library.summary, *views], **_WRITER)
    library.delete.click(cb.ask_delete, inputs=[selected_id, lang],
                         outputs=[library.confirm_box, library.confirm_text, library.summary], **_CHEAP)
    library.cancel.click(cb.cancel_delete, inputs=[lang], outputs=[library.confirm_box, library.summary], **_CHEAP)
    library.confirm.click(cb.on_delete, inputs=[selected_id, search, lang],
                          outputs=[library.confirm_box, library.summary, selected_id, library.selected,
                                   library.preview, *views], **_WRITER)
    library.table.select(cb.on_select, inputs=[lang],
                         outputs=[selected_id, library.selected, library.preview, library.confirm_box], **_CHEAP)
    search.change(cb.on_search, inputs=[search, lang], outputs=[library.table, library.count_note], **_CHEAP)
    gr.Timer(REFRESH_SECONDS).tick(cb.refresh_if_changed, inputs=[seen_generation, search, lang], outputs=views,
                                   show_progress="hidden", **_CHEAP)


def build_app(pipeline: Pipeline, settings: Settings) -> gr.Blocks:
    """The whole web chat as a gr.Blocks (not launched): the layout, and each event wired to a
    ChatCallbacks method."""
    cb = ChatCallbacks(pipeline, settings)
    settings.library_dir.mkdir(parents=True, exist_ok=True)
    guard.prepare_temp_dir(settings)  # before any component: Gradio reads GRADIO_TEMP_DIR as they are built
    with gr.Blocks(title="Dispatch QA", analytics_enabled=False, delete_cache=(900, 3600)) as demo:
        # The conversation lives in this browser's storage: it survives a reload, and no other
        # browser ever sees it (the value is encrypted with this server's secret).
        turns = gr.BrowserState([], storage_key="dq-conversation")
        lang = gr.State(DEFAULT_LANGUAGE)
        seen_generation = gr.State(-1)
        switch = header()
        status = gr.HTML("", js_on_load=None, elem_id="dq-status")
        with gr.Tabs():
            with gr.Tab(label("tab_chat"), id="chat", elem_id="dq-tab-chat") as chat_tab_box:
                chat = chat_tab(EXAMPLES)
            with gr.Tab(label("tab_library"), id="library", elem_id="dq-tab-library") as library_tab_box:
                library = library_tab()
            with gr.Tab(label("tab_timeline"), id="timeline", elem_id="dq-tab-timeline") as timeline_tab_box:
                timeline_view = timeline_tab(pipeline, [chat.date_from, chat.date_to, chat.sources])
        views = [seen_generation, status, library.table, library.count_note, chat.sources]
        assert len(views) == LIBRARY_VIEWS
        switch.click(None, js=SWITCH_LANGUAGE_JS)
        _wire_chat(cb, chat, turns, lang)
        _wire_library(cb, library, views, seen_generation, lang)
        # The browser's language reaches Python through a hidden box (a State's value never leaves the server).
        browser_language = gr.Textbox(visible=False, elem_id="dq-browser-language")
        demo.load(cb.on_load, inputs=[browser_language, turns, library.search], js=LOAD_LANGUAGE_JS,
                  outputs=[lang, turns, chat.transcript, chat.sources_panel, chat.dispatch, library.selected,
                           timeline_view, chat_tab_box, library_tab_box, timeline_tab_box, *views],
                  **_CHEAP)
        gr.api(cb.ask_endpoint, api_name="ask")
        gr.api(cb.index_status, api_name="index_status", concurrency_limit=None)
        gr.api(cb.all_documents, api_name="documents", concurrency_limit=None)
    return demo


# -- launching -----------------------------------------------------------------------------

def launch_options(settings: Settings) -> dict[str, Any]:
    """Everything `launch` gets: safe by default, in one place so a test can read it."""
    auth = parse_auth(settings.auth)
    if not is_loopback(settings.host) and auth is None:
        raise SettingsError(
            f"refusing to serve on {settings.host}, a non-loopback address, without a login: set auth "
            "(--auth user:password, DISPATCH_QA_AUTH or `auth` in dispatch-qa.toml), or keep host=127.0.0.1")
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "share": False,
        "auth": auth,
        "auth_message": "Dispatch QA: sign in" if auth else None,
        "max_file_size": settings.upload_max_bytes,
        "blocked_paths": guard.blocked_paths(settings),
        "allowed_paths": [],
        "enable_monitoring": False,
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "show_error": False,
        "strict_cors": True,
        "app_kwargs": {"middleware": [Middleware(guard.Guard, policy=guard.policy_for(
            settings, UPLOAD_SUFFIXES, login=auth is not None))]},
        "footer_links": ["api", "settings"],
        "i18n": gradio_i18n(suffixes=", ".join(UPLOAD_SUFFIXES)),
        "theme": theme(),
        "css": CSS + CORE_CSS,
    }


def queue(demo: gr.Blocks, settings: Settings) -> gr.Blocks:
    return demo.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size)


def seeds_dir() -> Path | None:
    for candidate in (Path(__file__).resolve().parent.parent / "seeds", Path.cwd() / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


def seed_if_empty(pipeline: Pipeline) -> None:
    if not pipeline.is_empty():
        return
    seeds = seeds_dir()
    if seeds is None:
        print("the index is empty and no seeds/ folder was found: upload dispatches in the Library tab",
              file=sys.stderr)
        return
    print(f"the index is empty: indexing {seeds} ...", file=sys.stderr)
    report = pipeline.index([seeds])
    for failure in report.failed:
        print(f"failed: {failure['file']}: {failure['reason']}", file=sys.stderr)
    print(f"{len(report.added)} dispatches indexed from {seeds}", file=sys.stderr)


def serve(settings: Settings, seed: bool = True) -> int:
    """`dispatch-qa serve`: index seeds/ into an empty index, then serve the chat until Ctrl+C."""
    from assistant.pipeline import open_pipeline

    options = launch_options(settings)  # refuse an unsafe bind before loading anything heavy
    problem = openai_api.api_key_problem(settings) or mcp_server.missing_package_problem(settings)
    if problem:
        raise SettingsError(problem)
    pipeline = open_pipeline(settings)
    if seed:
        seed_if_empty(pipeline)
    problem = pipeline.llm_check()  # a bad LLM configuration raises here, before the server starts
    if problem:
        print(f"warning: {problem}; answers fall back to extractive quotes", file=sys.stderr)
    demo = queue(build_app(pipeline, settings), settings)
    if settings.host in ("0.0.0.0", "::") and not settings.allowed_hosts:
        print("note: only 127.0.0.1/localhost names are answered: list the names or addresses users type in "
              "allowed_hosts (e.g. --allowed-hosts 192.168.1.20)", file=sys.stderr)
    try:
        options = mcp_server.mount(openai_api.mount(options, pipeline, settings), pipeline, settings)
        demo.launch(**options)  # + the OpenAI API at /v1, and the MCP server at /mcp when mcp_server is on
    except OSError as exc:
        raise SettingsError(f"cannot serve on {settings.host}:{settings.port} ({exc}); "
                            "choose another port with --port") from None
    finally:
        pipeline.close()
        guard.remove_temp_dir(settings)
    return 0
