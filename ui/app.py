"""The web chat (Gradio): ask with cited answers, read the cited passage, manage the library.

Callbacks only delegate: questions and indexing go to the Pipeline, markup comes from
ui/render.py. `build_app` builds the Blocks without launching; `serve` is the CLI's entry.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.settings import Settings, SettingsError
from ui import guard, render
from ui.checks import HISTORY_MAX, RequestProblem, ask_arguments
from ui.guard import is_loopback, parse_auth
from ui.library import UPLOAD_SUFFIXES, store_uploads, upload_file_of
from ui.stream import accumulate, answer_events
from ui.theme import CLICKS_JS, CSS, SCROLL_TO_MARK_JS, theme

log = logging.getLogger("dispatch_qa.ui")

EXAMPLES = [
    "Que demande Poutine pour un cessez-le-feu ?",
    "Que dit Zelensky de la situation dans la région de Koursk ?",
    "What did Donald Trump ask Vladimir Putin to do?",
]
REFRESH_SECONDS = 3.0  # how soon an index changed by the CLI shows in an open page
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


# -- callbacks (plain functions of the pipeline, testable without a browser) ------------------

class ChatCallbacks:
    def __init__(self, pipeline: Any, settings: Settings) -> None:
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
        if self.pipeline.records.counts()[0] == 0:
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

    @staticmethod
    def new_chat() -> tuple[list, str, str, str]:
        return [], render.transcript_html([], EXAMPLES), render.sources_html(None, 0), _dispatch_placeholder()

    # library -----------------------------------------------------------------------------------
    def status_html(self) -> str:
        return render.status_line(self.pipeline.status())

    def documents(self) -> list[dict[str, Any]]:
        """The indexed dispatches, read again only when the index changed (searching is per keystroke)."""
        generation = self.pipeline.records.generation
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

    # API -----------------------------------------------------------------------------------------
    def api_ask(self, question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
                history: list[str] | None = None) -> dict[str, Any]:
        from assistant.pipeline import QueryFilters

        question, date_from, date_to, sources, history = ask_arguments(question, date_from, date_to, sources, history)
        filters = QueryFilters(date_from or None, date_to or None, tuple(sources))
        return self.pipeline.ask(question, filters=filters, history=history).to_dict()


def _skip() -> Any:
    return gr.skip()


def _dispatch_placeholder(lang: str = "en") -> str:
    return f'<div class="dq-panel-empty">{render.esc(render.t(lang, "no_dispatch"))}</div>'


# -- the Blocks ----------------------------------------------------------------------------

def build_app(pipeline: Any, settings: Settings) -> Any:
    """The whole web chat as a gr.Blocks (not launched)."""
    cb = ChatCallbacks(pipeline, settings)
    settings.library_dir.mkdir(parents=True, exist_ok=True)
    guard.prepare_temp_dir(settings)  # before any component: Gradio reads GRADIO_TEMP_DIR as they are built
    private: dict[str, Any] = {"api_visibility": "private"}
    cheap: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": None}
    writer: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1, "concurrency_id": "index"}

    with gr.Blocks(title="Dispatch QA", analytics_enabled=False, delete_cache=(900, 3600)) as demo:
        turns = gr.State([])
        seen_generation = gr.State(-1)
        with gr.Row(elem_classes="dq-header"):
            gr.HTML("<h1>Dispatch QA</h1>", js_on_load=None)
        status = gr.HTML(cb.status_html(), js_on_load=None, elem_id="dq-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat", elem_id="dq-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5):
                        transcript = gr.HTML(render.transcript_html([], EXAMPLES), js_on_load=CLICKS_JS,
                                             elem_id="dq-transcript", max_height=640,
                                             container=True, padding=True)
                        with gr.Row():
                            question = gr.Textbox(show_label=False, scale=8, lines=1, max_lines=5, autofocus=True,
                                                  placeholder="Ask about the dispatches… / Posez votre question…",
                                                  elem_id="dq-question")
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="dq-send")
                        with gr.Row():
                            new_chat = gr.Button("New chat", size="sm", elem_id="dq-new-chat")
                        with gr.Accordion("Filters", open=False, elem_id="dq-filters"):
                            with gr.Row():
                                date_from = gr.Textbox(label="From date", placeholder="YYYY[-MM[-DD]]",
                                                       elem_id="dq-date-from")
                                date_to = gr.Textbox(label="To date", placeholder="YYYY[-MM[-DD]]",
                                                     elem_id="dq-date-to")
                            sources = gr.Dropdown(label="Sources / agencies", choices=cb.source_choices(),
                                                  multiselect=True, allow_custom_value=True, elem_id="dq-sources-filter")
                    with gr.Column(scale=4):
                        sources_panel = gr.HTML(render.sources_html(None, 0), js_on_load=CLICKS_JS,
                                                elem_id="dq-sources", container=True, padding=True)
                        dispatch = gr.HTML(_dispatch_placeholder(), js_on_load=SCROLL_TO_MARK_JS,
                                           elem_id="dq-dispatch", container=True, padding=True)
            with gr.Tab("Library", id="library", elem_id="dq-tab-library"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        upload = gr.File(label=f"Upload articles ({', '.join(UPLOAD_SUFFIXES)})",
                                         file_count="multiple", file_types=list(UPLOAD_SUFFIXES),
                                         elem_id="dq-upload")
                        summary = gr.HTML("", js_on_load=None, elem_id="dq-summary")
                        reindex = gr.Button("Re-index all folders", elem_id="dq-reindex")
                    with gr.Column(scale=5):
                        search = gr.Textbox(label="Search dispatches", placeholder="title, date, source, id…",
                                            elem_id="dq-search")
                        initial_rows, initial_note = cb.table("")
                        count_note = gr.Markdown(initial_note, elem_id="dq-count")
                        table = gr.Dataframe(value=initial_rows, headers=render.DOCUMENT_COLUMNS, interactive=False,
                                             wrap=True, max_height=420, elem_id="dq-docs",
                                             column_widths=["37%", "11%", "12%", "10%", "20%", "10%"],
                                             datatype=["str", "str", "str", "number", "str", "str"])
                        with gr.Row():
                            selected = gr.Textbox(label="Selected dispatch id", scale=4, elem_id="dq-selected")
                            delete = gr.Button("Delete dispatch", variant="stop", scale=1, elem_id="dq-delete")
                        preview = gr.HTML("", js_on_load=None, elem_id="dq-preview")

        # chat events
        ask_io = {"inputs": [question, turns, date_from, date_to, sources],
                  "outputs": [transcript, sources_panel, turns, question]}
        question.submit(cb.respond, **ask_io, **private)
        send.click(cb.respond, **ask_io, **private)

        def ask_example(turns_now, df, dt, src, evt: gr.EventData):
            yield from cb.respond(getattr(evt, "text", ""), turns_now, df, dt, src)

        transcript.example(ask_example, inputs=[turns, date_from, date_to, sources],
                           outputs=[transcript, sources_panel, turns, question], **private)

        def ask_standalone(turns_now, df, dt, src, evt: gr.EventData):
            yield from cb.respond(getattr(evt, "text", ""), turns_now, df, dt, src, standalone=True)

        transcript.standalone(ask_standalone, inputs=[turns, date_from, date_to, sources],
                              outputs=[transcript, sources_panel, turns, question], **private)

        def show_citation(turns_now, evt: gr.EventData):
            data = evt._data or {}
            try:
                got = cb.citation(turns_now, int(data.get("turn", -1)), str(data.get("kind")), int(data.get("ref", -1)))
            except (TypeError, ValueError):
                got = None
            return got if got is not None else (gr.skip(), gr.skip())

        transcript.cite(show_citation, inputs=[turns], outputs=[sources_panel, dispatch], **cheap)
        sources_panel.cite(show_citation, inputs=[turns], outputs=[sources_panel, dispatch], **cheap)
        new_chat.click(cb.new_chat, outputs=[turns, transcript, sources_panel, dispatch], **cheap)

        # library events
        def library_views(query: str):
            rows, note = cb.table(query)
            return (pipeline.records.generation, cb.status_html(), rows, note,
                    gr.Dropdown(choices=cb.source_choices()))

        library_outputs = [seen_generation, status, table, count_note, sources]

        def refresh_if_changed(seen: int, query: str):
            if pipeline.records.generation == seen:
                return (gr.skip(),) * len(library_outputs)
            return library_views(query)

        def on_upload(files, query, progress=gr.Progress()):
            return (cb.upload(files, progress), None, *library_views(query))

        def on_reindex(query, progress=gr.Progress()):
            return (cb.reindex(progress), *library_views(query))

        def on_delete(doc_id, query, progress=gr.Progress()):
            return (cb.delete(doc_id, progress), "", "", *library_views(query))

        def on_select(evt: gr.SelectData):
            row = evt.row_value or []
            doc_id = str(row[4]) if len(row) > 4 else ""
            doc = pipeline.document(doc_id) if doc_id else None
            return doc_id, render.dispatch_html(doc, None, "en") if doc else ""

        def on_search(query: str):
            rows, note = cb.table(query)
            return rows, note

        upload.upload(on_upload, inputs=[upload, search], outputs=[summary, upload, *library_outputs], **writer)
        reindex.click(on_reindex, inputs=[search], outputs=[summary, *library_outputs], **writer)
        delete.click(on_delete, inputs=[selected, search], outputs=[summary, selected, preview, *library_outputs],
                     **writer)
        table.select(on_select, outputs=[selected, preview], **cheap)
        search.change(on_search, inputs=[search], outputs=[table, count_note], **cheap)
        demo.load(library_views, inputs=[search], outputs=library_outputs, **cheap)
        gr.Timer(REFRESH_SECONDS).tick(refresh_if_changed, inputs=[seen_generation, search],
                                       outputs=library_outputs, show_progress="hidden", **cheap)

        # the public API (gradio_client): the core JSON answer and the index status
        def ask(question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
                history: list[str] | None = None) -> dict:
            """Answer a question from the indexed dispatches. Returns the answer JSON (schema_version 1):
            answer, abstained, citations (quote == text[start:end] of the cited dispatch), related, timings_ms."""
            try:
                return cb.api_ask(question, date_from, date_to, sources, history)
            except ValueError as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        def index_status() -> dict:
            """What is indexed: documents, chunks, embedding model, store mode and location, last indexing time."""
            return pipeline.status()

        def documents() -> list:
            """Every indexed dispatch: doc_id, title, date, source, language, chunks, source_path."""
            return pipeline.documents()

        gr.api(ask, api_name="ask")
        gr.api(index_status, api_name="index_status", concurrency_limit=None)
        gr.api(documents, api_name="documents", concurrency_limit=None)
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


def queue(demo: Any, settings: Settings) -> Any:
    return demo.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_max_size)


def seeds_dir() -> Path | None:
    for candidate in (Path(__file__).resolve().parent.parent / "seeds", Path.cwd() / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


def seed_if_empty(pipeline: Any) -> None:
    if pipeline.records.counts()[0]:
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
    from assistant.pipeline import open_pipeline, quiet_environment

    quiet_environment()
    options = launch_options(settings)  # refuse an unsafe bind before loading anything heavy
    pipeline = open_pipeline(settings)
    if seed:
        seed_if_empty(pipeline)
    llm_check = getattr(pipeline, "llm_check", None)
    if callable(llm_check):
        problem = llm_check()  # a bad LLM configuration raises here, before the server starts
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
