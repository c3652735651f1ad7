"""Pure rendering of the Library tab and the status line, in the interface language.

Plain data in (Pipeline.status(), SyncReport.to_dict(), Pipeline.documents()), HTML or table rows
out; everything from a file or a user goes through `esc`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui.i18n import text
from ui.reasons import refusal_reason
from ui.render import esc

DOCUMENT_COLUMN_KEYS = ("col_title", "col_date", "col_source", "col_chunks", "col_id", "col_origin")
ID_COLUMN = 4


def document_columns(lang: str) -> list[str]:
    return [text(lang, key) for key in DOCUMENT_COLUMN_KEYS]


def status_line(status: dict[str, Any], lang: str) -> str:
    """Documents, chunks and last indexing on one line; the model and the store behind a toggle."""
    last = status.get("last_indexed_at") or text(lang, "status_never")
    return (f'<div class="dq-status"><span><b>{esc(status.get("documents", 0))}</b> '
            f'{esc(text(lang, "status_documents"))}</span>'
            f'<span><b>{esc(status.get("chunks", 0))}</b> {esc(text(lang, "status_chunks"))}</span>'
            f'<span>{esc(text(lang, "status_last", when=last))}</span>'
            f'<details class="dq-status-details"><summary>{esc(text(lang, "status_details"))}</summary>'
            f'<span>{esc(text(lang, "status_model"))} <code>{esc(status.get("embedding_model"))}</code></span> '
            f'<span>{esc(text(lang, "status_store"))} {esc(status.get("store_mode"))} '
            f'<code>{esc(status.get("store_location"))}</code></span></details></div>')


def index_summary_html(report: dict[str, Any], lang: str, rejected: list[dict[str, str]] | None = None,
                       note: str | None = None) -> str:
    """added / updated / unchanged / removed / refused of one run, every refused file named with its reason."""
    failed = list(rejected or []) + list(report.get("failed") or [])
    counts = text(lang, "summary_counts", added=len(report.get("added") or []),
                  updated=len(report.get("updated") or []), unchanged=report.get("unchanged", 0),
                  removed=len(report.get("removed") or []), failed=len(failed))
    parts = [f'<div class="dq-summary" role="status"><div class="dq-summary-counts">{esc(counts)}</div>']
    if note:
        parts.append(f"<div>{esc(note)}</div>")
    for key in ("added", "updated", "removed"):
        ids = report.get(key) or []
        if ids:
            shown = ", ".join(esc(i) for i in ids[:20]) + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")
            parts.append(f"<div>{esc(text(lang, 'summary_' + key))}: {shown}</div>")
    if failed:
        items = "".join(f'<li><code>{esc(file_name(f.get("file")))}</code>: {esc(refusal_reason(f.get("reason") or "", lang))}</li>'
                        for f in failed)
        parts.append(f'<div class="dq-failed">{esc(text(lang, "summary_refused"))}<ul>{items}</ul></div>')
    if report.get("repaired"):
        parts.append(f"<div>{esc(report['repaired'])}</div>")
    parts.append("</div>")
    return "".join(parts)


def message_html(message: str, kind: str = "info") -> str:
    return f'<div class="dq-summary dq-{esc(kind)}" role="status">{esc(message)}</div>'


def file_name(path: str | None) -> str:
    """The file's name without its folders (a JSONL line keeps its ":<line>")."""
    return Path(path).name if path else ""


def document_rows(docs: list[dict[str, Any]], query: str, library_dir: Path | None, lang: str = "en",
                  limit: int = 500) -> tuple[list[list[Any]], int]:
    """Rows of the library table matching `query` (case-insensitive, any column), and the match count."""
    needle = query.strip().casefold()
    rows: list[list[Any]] = []
    matched = 0
    for d in docs:
        uploaded = library_dir is not None and is_inside(d.get("source_path"), library_dir)
        origin = text(lang, "origin_upload" if uploaded else "origin_indexed")
        row = [d.get("title") or "", d.get("date") or "", d.get("source") or "", d.get("chunks", 0),
               d.get("doc_id"), origin]
        if needle and not any(needle in str(x).casefold() for x in row):
            continue
        matched += 1
        if len(rows) < limit:
            rows.append(row)
    return rows, matched


def count_note(matched: int, shown: int, lang: str) -> str:
    return text(lang, "count_shown", n=matched, shown=shown) if matched > shown else text(lang, "count", n=matched)


def delete_question(doc: dict[str, Any], upload: Path | None, shared: bool, lang: str) -> str:
    """What the confirmation asks: the dispatch by title and id, and whether its file leaves the disk."""
    title = doc.get("title") or doc.get("doc_id")
    key = "ask_delete_upload" if upload is not None and not shared else "ask_delete_kept"
    return text(lang, key, title=title, doc_id=doc.get("doc_id"), file=file_name(doc.get("source_path")))


def selected_html(doc: dict[str, Any] | None, lang: str) -> str:
    """The dispatch a table click selected (read-only: ids are never typed)."""
    if doc is None:
        return f'<div class="dq-selected dq-none">{esc(text(lang, "nothing_selected"))}</div>'
    return (f'<div class="dq-selected"><b>{esc(doc.get("title") or doc.get("doc_id"))}</b> '
            f'<code>{esc(doc.get("doc_id"))}</code></div>')


def is_inside(path: str | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
