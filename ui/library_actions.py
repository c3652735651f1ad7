"""The Library tab's callbacks: upload, re-index, select, delete (after a confirmation), and the views
of the library (status line, table, sources filter) refreshed after each.

A mixin of ui/app.py's ChatCallbacks (it needs `pipeline`, `settings`, `library_dir`); each
method delegates to the Pipeline and renders with ui/library_view.py in the interface language.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from ui import library_view as view
from ui import render
from ui.filters import source_choices
from ui.i18n import STRINGS, text
from ui.library import UPLOAD_SUFFIXES, store_uploads, upload_file_of

log = logging.getLogger("dispatch_qa.ui")

UPLOAD_REPORT_MAX = 50  # names of dropped files listed from one event
LIBRARY_VIEWS = 5  # what library_views returns: generation, status, table, count note, sources filter


class LibraryCallbacks:
    pipeline: Any
    settings: Any
    library_dir: Path
    _documents: tuple[int, list[dict[str, Any]]] | None = None

    def status_html(self, lang: str = "en") -> str:
        return view.status_line(self.pipeline.status(), lang)

    def documents(self) -> list[dict[str, Any]]:
        """The indexed dispatches, read again only when the index changed (searching is per keystroke)."""
        generation = self.pipeline.generation
        if self._documents is None or self._documents[0] != generation:
            self._documents = (generation, self.pipeline.documents())
        return self._documents[1]

    def table(self, query: str, lang: str = "en") -> tuple[list[list[Any]], str]:
        rows, matched = view.document_rows(self.documents(), query or "", self.library_dir, lang)
        return rows, view.count_note(matched, len(rows), lang)

    def source_choices(self) -> list[str]:
        return sorted({d["source"] for d in self.documents() if d.get("source")}, key=str.casefold)

    # actions -------------------------------------------------------------------------------------
    def upload(self, files: list[Any] | None, progress: Any = None, lang: str = "en",
               refused: list[dict[str, str]] | None = None) -> str:
        """Store and index the uploads; `refused`: files the browser already dropped, listed too."""
        paths = [getattr(f, "name", f) for f in (files or [])]
        if not paths:
            return view.message_html(text(lang, "no_file"), "info")
        stored = store_uploads(paths, self.library_dir, self.settings.upload_max_bytes)
        rejected = list(refused or []) + stored.rejected
        if not stored.stored:
            return view.index_summary_html({}, lang, rejected)
        return self._sync(progress, [self.library_dir], lang, rejected=rejected)

    def reindex(self, progress: Any = None, lang: str = "en") -> str:
        return self._sync(progress, None, lang)

    def _delete_plan(self, doc_id: str) -> tuple[dict[str, Any] | None, Path | None, bool]:
        """(the dispatch, its uploaded file or None, whether that file holds other dispatches too)."""
        doc = self.pipeline.document(doc_id) if doc_id else None
        if doc is None:
            return None, None, False
        upload = upload_file_of(doc["source_path"], self.library_dir)
        shared = upload is not None and any(d["source_path"] == doc["source_path"] and d["doc_id"] != doc_id
                                            for d in self.documents())
        return doc, upload, shared

    def delete(self, doc_id: str, progress: Any = None, lang: str = "en") -> str:
        doc_id = (doc_id or "").strip()
        doc, upload, shared = self._delete_plan(doc_id)
        if doc is None:
            return view.message_html(text(lang, "no_such_dispatch", doc_id=doc_id) if doc_id
                                     else text(lang, "select_first"), "error")
        try:
            if upload is not None and not shared:
                upload.unlink(missing_ok=True)  # the sync below then drops it from the index
                return self._sync(progress, [self.library_dir], lang,
                                  note=text(lang, "deleted_with_file", doc_id=doc_id, file=upload.name))
            self.pipeline.remove(doc_id)
        except Exception as exc:  # noqa: BLE001
            log.exception("deleting %s failed", doc_id)
            return view.message_html(text(lang, "delete_failed", doc_id=doc_id, detail=exc), "error")
        return view.message_html(text(lang, "removed_shared" if shared else "removed_kept", doc_id=doc_id), "info")

    def _sync(self, progress: Any, roots: list[Path] | None, lang: str,
              rejected: list[dict[str, str]] | None = None, note: str | None = None) -> str:
        """Index `roots` (None: every root indexed before) and summarise the run."""
        if progress is not None:
            progress(0, desc=text(lang, "reading_files"))

        def report_progress(done: int, total: int, message: str) -> None:
            if progress is not None and total:
                step = text(lang, f"progress_{message}") if f"progress_{message}" in STRINGS else message
                progress((done, total), desc=f"{step} {done}/{total}", unit=text(lang, "progress_unit"))

        try:
            report = self.pipeline.index(roots, progress=report_progress)
        except Exception as exc:  # noqa: BLE001 - e.g. another writer holds the lock: say so
            log.exception("indexing failed")
            return view.message_html(text(lang, "indexing_failed", detail=exc), "error")
        return view.index_summary_html(report.to_dict(), lang, rejected, note)

    # events: the action's message, then every view of the library refreshed ---------------------
    def library_views(self, query: str, lang: str = "en") -> tuple[Any, ...]:
        """(generation shown, status line, table, count note, sources filter) as they are now."""
        rows, note = self.table(query, lang)
        return (self.pipeline.generation, self.status_html(lang),
                gr.Dataframe(value=rows, headers=view.document_columns(lang)), note,
                gr.Dropdown(choices=source_choices(self.source_choices(), lang)))

    def refresh_if_changed(self, seen_generation: int, query: str, lang: str = "en") -> tuple[Any, ...]:
        """The timer's check: read the library again only when another process changed the index."""
        if self.pipeline.generation == seen_generation:
            return (gr.skip(),) * LIBRARY_VIEWS
        return self.library_views(query, lang)

    def on_upload(self, files: list[Any] | None, query: str, lang: str = "en",
                  refused: list[dict[str, str]] | None = None,
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """The summary (with the files the upload box dropped), the upload box emptied (never left on
        an error), the dropped files forgotten, the library views."""
        return (self.upload(files, progress, lang, refused), None, [], *self.library_views(query, lang))

    @staticmethod
    def on_refused(lang: str, evt: gr.EventData) -> tuple[str, list[dict[str, str]]]:
        """Files the upload box dropped for their type (the summary's `refused` event): named in the
        summary at once, and kept for the summary of the upload that follows."""
        try:
            names = [str(n) for n in (getattr(evt, "names", None) or [])][:UPLOAD_REPORT_MAX]
        except TypeError:  # an event sent with no data
            names = []
        refused = [{"file": n, "reason": text(lang, "unsupported_type", suffix=Path(n).suffix or "(—)",
                                              accepted=", ".join(UPLOAD_SUFFIXES))} for n in names]
        return view.index_summary_html({}, lang, refused), refused

    def on_reindex(self, query: str, lang: str = "en", progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        return (self.reindex(progress, lang), *self.library_views(query, lang))

    def ask_delete(self, doc_id: str, lang: str = "en") -> tuple[Any, Any, Any]:
        """(confirmation box, its question, summary): nothing is deleted before the user confirms."""
        doc, upload, shared = self._delete_plan((doc_id or "").strip())
        if doc is None:
            message = text(lang, "no_such_dispatch", doc_id=doc_id) if doc_id else text(lang, "select_first")
            return gr.Group(visible=False), "", view.message_html(message, "error")
        question = view.delete_question(doc, upload, shared, lang)
        return gr.Group(visible=True), f'<div class="dq-confirm-q" role="alertdialog">{render.esc(question)}</div>', ""

    def cancel_delete(self, lang: str = "en") -> tuple[Any, str]:
        return gr.Group(visible=False), view.message_html(text(lang, "delete_cancelled"), "info")

    def on_delete(self, doc_id: str, query: str, lang: str = "en",
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """The confirmed deletion: (box hidden, summary, selection cleared, preview cleared, views)."""
        return (gr.Group(visible=False), self.delete(doc_id, progress, lang), "", view.selected_html(None, lang), "",
                *self.library_views(query, lang))

    def on_select(self, lang: str, evt: gr.SelectData) -> tuple[str, str, str, Any]:
        """A clicked table row: (selected id, its name shown, the dispatch previewed, confirmation hidden)."""
        row = evt.row_value or []
        doc_id = str(row[view.ID_COLUMN]) if len(row) > view.ID_COLUMN else ""
        doc = self.pipeline.document(doc_id) if doc_id else None
        preview = render.dispatch_html(doc, None, lang) if doc else ""
        return (doc_id if doc else "", view.selected_html(doc, lang), preview, gr.Group(visible=False))

    def on_search(self, query: str, lang: str = "en") -> tuple[list[list[Any]], str]:
        return self.table(query, lang)
