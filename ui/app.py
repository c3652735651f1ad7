"""The web chat (Gradio): ask with cited answers, read the cited passage, manage the library.

Callbacks only delegate: questions and indexing go to the Pipeline, markup comes from
ui/render.py. `build_app` builds the Blocks without launching; `serve` is the CLI's entry.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.settings import Settings, SettingsError
from ui import guard, render
from ui.checks import HISTORY_MAX, RequestProblem, ask_arguments
from ui.guard import is_loopback, parse_auth
from ui.layout import ChatTab, LibraryTab, chat_tab, dispatch_placeholder, library_tab
from ui.library import UPLOAD_SUFFIXES, store_uploads, upload_file_of
from ui.stream import accumulate, answer_events
from ui.theme import CSS, theme
from ui.timeline import timeline_tab

if TYPE_CHECKING:
    from assistant.pipeline import Pipeline

log = logging.getLogger("dispatch_qa.ui")

EXAMPLES = [
    "Que demande Poutine pour un cessez-le-feu ?",
    "Que dit Zelensky de la situation dans la région de Koursk ?",
    "What did Donald Trump ask Vladimir Putin to do?",
]
REFRESH_SECONDS = 3.0  # how soon an index changed by the CLI shows in an open page
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


# -- callbacks (methods of one object, testable without a browser) -------------------------

class ChatCallbacks:
    """Every handler of the web chat; each one delegates to the Pipeline and to ui/render.py.

    The method names of the Gradio events are their (private) api names: tests and the guard's
    tests address `respond`, `on_upload`, `on_reindex` and `on_delete` by name.
    """

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.library_dir = settings.library_dir
        self._documents: tuple[int, list[dict[str, Any]]] | None = None

    # chat --------------------------------------------------------------------------------------
    def respond(self, question: str, turns: list[dict[str, Any]] | None, date_from: str = "", date_to: str = "",
                sources: list[str] | None = None, standalone: bool = False):
        """Generator: (transcript html, sources html, turns, question box) as the answer streams in.

        `standalone`: answer without the earlier turns (the user overruled a follow-up reading)."""
        from assistant.language import question_language
        from assistant.pipeline import QueryFilters

        question = question.strip() if isinstance(question, str) else ""
        turns = [dict(t) for t in (turns or [])]
        if not question:
            yield render.transcript_html(turns, EXAMPLES), _skip(), turns, ""
            return
        lang = question_language(question)
        history = [] if standalone else [t["question"] for t in turns if t.get("answer") is not None][-HISTORY_MAX:]
        turn: dict[str, Any] = {"question": question, "language": lang, "partial": "", "answer": None, "error": None}
        turns.append(turn)
        index = len(turns) - 1
        turn["error"] = self._precheck(lang, question, date_from, date_to, sources)
        if turn["error"]:  # the question stays in the box, to send again once the filter is fixed
            yield render.transcript_html(turns, EXAMPLES), _skip(), turns, _skip()
            return
        yield render.transcript_html(turns, EXAMPLES), _skip(), turns, ""
        filters = QueryFilters((date_from or "").strip() or None, (date_to or "").strip() or None,
                               tuple(sources or ()))
        try:
            for text, answer in accumulate(answer_events(self.pipeline, question, filters, history)):
                if answer is None:
                    turn["partial"] = text
                    yield render.transcript_html(turns, EXAMPLES), _skip(), turns, _skip()
                else:
                    turn["answer"] = answer.to_dict()
        except Exception as exc:  # noqa: BLE001 - shown to the user in their language, logged in full
            log.exception("answering %r failed", question)
            turn["error"] = render.t(lang, "error", detail=str(exc) or type(exc).__name__)
            yield render.transcript_html(turns, EXAMPLES), _skip(), turns, _skip()
            return
        yield render.transcript_html(turns, EXAMPLES), render.sources_html(turn["answer"], index), turns, _skip()

    def _precheck(self, lang: str, question: str, date_from: Any, date_to: Any, sources: Any) -> str | None:
        try:
            ask_arguments(question, date_from, date_to, sources)
        except RequestProblem as exc:
            return str(exc)
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            value = (value or "").strip()
            if value and not _DATE_RE.match(value):
                return render.t(lang, "bad_date", field=name, value=value)
        if self.pipeline.is_empty():
            return render.t(lang, "empty_index")
        return None

    def citation(self, turns: list[dict[str, Any]], turn_index: int, kind: str, ref: int) -> tuple[str, str] | None:
        """(sources panel, dispatch view) for a clicked marker or card; None when it is stale."""
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
        doc = self.pipeline.document(cited["doc_id"])
        return (render.sources_html(answer, turn_index, active=(kind, ref)),
                render.dispatch_html(doc, cited, lang))

    def ask_example(self, turns: list[dict[str, Any]] | None, date_from: str, date_to: str,
                    sources: list[str] | None, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
        """A clicked example question (the transcript's `example` event)."""
        yield from self.respond(event_field(evt, "text", ""), turns, date_from, date_to, sources)

    def ask_standalone(self, turns: list[dict[str, Any]] | None, date_from: str, date_to: str,
                       sources: list[str] | None, evt: gr.EventData) -> Iterator[tuple[Any, ...]]:
        """The same words again, as a new question (the follow-up reading overruled)."""
        yield from self.respond(event_field(evt, "text", ""), turns, date_from, date_to, sources, standalone=True)

    def show_citation(self, turns: list[dict[str, Any]], evt: gr.EventData) -> tuple[Any, Any]:
        """A clicked citation marker or card (the `cite` event): the sources panel and the dispatch."""
        try:
            got = self.citation(turns, int(event_field(evt, "turn", -1)), str(event_field(evt, "kind", None)),
                                int(event_field(evt, "ref", -1)))
        except (TypeError, ValueError):
            got = None
        return got if got is not None else (gr.skip(), gr.skip())

    @staticmethod
    def new_chat() -> tuple[list, str, str, str]:
        return [], render.transcript_html([], EXAMPLES), render.sources_html(None, 0), dispatch_placeholder()

    # library -----------------------------------------------------------------------------------
    def status_html(self) -> str:
        return render.status_line(self.pipeline.status())

    def documents(self) -> list[dict[str, Any]]:
        """The indexed dispatches, read again only when the index changed (searching is per keystroke)."""
        generation = self.pipeline.generation
        if self._documents is None or self._documents[0] != generation:
            self._documents = (generation, self.pipeline.documents())
        return self._documents[1]

    def table(self, query: str) -> tuple[list[list[Any]], str]:
        rows, matched = render.document_rows(self.documents(), query or "", self.library_dir)
        shown = len(rows)
        note = f"{matched} dispatches" + (f" (showing the first {shown})" if matched > shown else "")
        return rows, note

    def source_choices(self) -> list[str]:
        return sorted({d["source"] for d in self.documents() if d.get("source")}, key=str.casefold)

    def upload(self, files: list[Any] | None, progress: Any = None) -> str:
        paths = [getattr(f, "name", f) for f in (files or [])]
        if not paths:
            return render.message_html("No file received.", "info")
        stored = store_uploads(paths, self.library_dir, self.settings.upload_max_bytes)
        if not stored.stored:
            return render.index_summary_html({}, stored.rejected)
        return self._sync(progress, [self.library_dir], rejected=stored.rejected)

    def reindex(self, progress: Any = None) -> str:
        return self._sync(progress, roots=None)

    def delete(self, doc_id: str, progress: Any = None) -> str:
        doc_id = (doc_id or "").strip()
        doc = self.pipeline.document(doc_id) if doc_id else None
        if doc is None:
            return render.message_html(f"No dispatch with id '{doc_id}' in the index." if doc_id
                                       else "Select a dispatch in the table first.", "error")
        upload = upload_file_of(doc["source_path"], self.library_dir)
        shared = upload is not None and any(d["source_path"] == doc["source_path"] and d["doc_id"] != doc_id
                                            for d in self.documents())
        try:
            if upload is not None and not shared:
                upload.unlink(missing_ok=True)  # the sync below then drops it from the index
                return self._sync(progress, roots=[self.library_dir],
                                  note=f"Deleted {doc_id} and its uploaded file {upload.name}.")
            self.pipeline.remove(doc_id)
        except Exception as exc:  # noqa: BLE001
            log.exception("deleting %s failed", doc_id)
            return render.message_html(f"Could not delete {doc_id}: {exc}", "error")
        return render.message_html(f"Removed {doc_id} from the index (its file is kept"
                                   + (", it holds other dispatches)." if shared else ")."), "info")

    def _sync(self, progress: Any, roots: list[Path] | None, rejected: list[dict[str, str]] | None = None,
              note: str | None = None) -> str:
        """Index `roots` (None: every root indexed before) and summarise the run."""
        if progress is not None:
            progress(0, desc="Reading files…")

        def report_progress(done: int, total: int, message: str) -> None:
            if progress is not None and total:
                progress((done, total), desc=f"{message} {done}/{total}", unit="dispatches")

        try:
            report = self.pipeline.index(roots, progress=report_progress)
        except Exception as exc:  # noqa: BLE001 - e.g. another writer holds the lock: say so
            log.exception("indexing failed")
            return render.message_html(f"Indexing did not run: {exc}", "error")
        return render.index_summary_html(report.to_dict(), rejected, note)

    # library events: the action's message, then every view of the library refreshed ----------------
    def library_views(self, query: str) -> tuple[Any, ...]:
        """(generation shown, status line, table rows, count note, sources filter) as they are now."""
        rows, note = self.table(query)
        return (self.pipeline.generation, self.status_html(), rows, note,
                gr.Dropdown(choices=self.source_choices()))

    def refresh_if_changed(self, seen_generation: int, query: str) -> tuple[Any, ...]:
        """The timer's check: read the library again only when another process changed the index."""
        if self.pipeline.generation == seen_generation:
            return (gr.skip(),) * LIBRARY_VIEWS
        return self.library_views(query)

    def on_upload(self, files: list[Any] | None, query: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        return (self.upload(files, progress), None, *self.library_views(query))

    def on_reindex(self, query: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        return (self.reindex(progress), *self.library_views(query))

    def on_delete(self, doc_id: str, query: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        return (self.delete(doc_id, progress), "", "", *self.library_views(query))

    def on_select(self, evt: gr.SelectData) -> tuple[str, str]:
        """A clicked table row: its id in the delete box and the dispatch previewed."""
        row = evt.row_value or []
        doc_id = str(row[4]) if len(row) > 4 else ""
        doc = self.pipeline.document(doc_id) if doc_id else None
        return doc_id, render.dispatch_html(doc, None, "en") if doc else ""

    def on_search(self, query: str) -> tuple[list[list[Any]], str]:
        return self.table(query)

    # API -----------------------------------------------------------------------------------------
    def api_ask(self, question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
                history: list[str] | None = None) -> dict[str, Any]:
        from assistant.pipeline import QueryFilters

        question, date_from, date_to, sources, history = ask_arguments(question, date_from, date_to, sources, history)
        filters = QueryFilters(date_from or None, date_to or None, tuple(sources))
        return self.pipeline.ask(question, filters=filters, history=history).to_dict()

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


LIBRARY_VIEWS = 5  # what library_views returns: generation, status, table, count note, sources filter


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


def _wire_chat(cb: ChatCallbacks, chat: ChatTab, turns: gr.State) -> None:
    filters = [chat.date_from, chat.date_to, chat.sources]
    answer_views = [chat.transcript, chat.sources_panel, turns, chat.question]
    chat.question.submit(cb.respond, inputs=[chat.question, turns, *filters], outputs=answer_views, **_PRIVATE)
    chat.send.click(cb.respond, inputs=[chat.question, turns, *filters], outputs=answer_views, **_PRIVATE)
    chat.transcript.example(cb.ask_example, inputs=[turns, *filters], outputs=answer_views, **_PRIVATE)
    chat.transcript.standalone(cb.ask_standalone, inputs=[turns, *filters], outputs=answer_views, **_PRIVATE)
    for panel in (chat.transcript, chat.sources_panel):
        panel.cite(cb.show_citation, inputs=[turns], outputs=[chat.sources_panel, chat.dispatch], **_CHEAP)
    chat.new_chat.click(cb.new_chat, outputs=[turns, chat.transcript, chat.sources_panel, chat.dispatch], **_CHEAP)


def _wire_library(cb: ChatCallbacks, library: LibraryTab, views: list[Any], seen_generation: gr.State,
                  demo: gr.Blocks) -> None:
    search = library.search
    library.upload.upload(cb.on_upload, inputs=[library.upload, search],
                          outputs=[library.summary, library.upload, *views], **_WRITER)
    library.reindex.click(cb.on_reindex, inputs=[search], outputs=[library.summary, *views], **_WRITER)
    library.delete.click(cb.on_delete, inputs=[library.selected, search],
                         outputs=[library.summary, library.selected, library.preview, *views], **_WRITER)
    library.table.select(cb.on_select, outputs=[library.selected, library.preview], **_CHEAP)
    search.change(cb.on_search, inputs=[search], outputs=[library.table, library.count_note], **_CHEAP)
    demo.load(cb.library_views, inputs=[search], outputs=views, **_CHEAP)
    gr.Timer(REFRESH_SECONDS).tick(cb.refresh_if_changed, inputs=[seen_generation, search], outputs=views,
                                   show_progress="hidden", **_CHEAP)


def build_app(pipeline: Pipeline, settings: Settings) -> gr.Blocks:
    """The whole web chat as a gr.Blocks (not launched): the layout, and each event wired to a
    ChatCallbacks method."""
    cb = ChatCallbacks(pipeline, settings)
    settings.library_dir.mkdir(parents=True, exist_ok=True)
    guard.prepare_temp_dir(settings)  # before any component: Gradio reads GRADIO_TEMP_DIR as they are built
    with gr.Blocks(title="Dispatch QA", analytics_enabled=False, delete_cache=(900, 3600)) as demo:
        turns = gr.State([])
        seen_generation = gr.State(-1)
        with gr.Row(elem_classes="dq-header"):
            gr.HTML("<h1>Dispatch QA</h1>", js_on_load=None)
        status = gr.HTML("", js_on_load=None, elem_id="dq-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat", elem_id="dq-tab-chat"):
                chat = chat_tab(EXAMPLES)
            with gr.Tab("Library", id="library", elem_id="dq-tab-library"):
                library = library_tab()
            with gr.Tab("Chronologie", id="timeline", elem_id="dq-tab-timeline"):
                timeline_tab(pipeline, [chat.date_from, chat.date_to, chat.sources])
        views = [seen_generation, status, library.table, library.count_note, chat.sources]
        assert len(views) == LIBRARY_VIEWS
        _wire_chat(cb, chat, turns)
        _wire_library(cb, library, views, seen_generation, demo)
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
        "theme": theme(),
        "css": CSS,
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
        demo.launch(**options)
    except OSError as exc:
        raise SettingsError(f"cannot serve on {settings.host}:{settings.port} ({exc}); "
                            "choose another port with --port") from None
    finally:
        pipeline.close()
        guard.remove_temp_dir(settings)
    return 0
