"""The chat's "Chronologie" view: a subject's dispatches in the order of what they report.

`timeline_html` renders the JSON of `dispatch-qa timeline --json` (assistant/timeline.py) and is pure;
`timeline_tab` lays out the view and wires its one event to Pipeline.timeline, with the chat's filters.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui.i18n import label, text
from ui.render import esc

if TYPE_CHECKING:
    from assistant.pipeline import Pipeline

log = logging.getLogger("dispatch_qa.ui")

_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
def _t(lang: str, key: str, **values: Any) -> str:
    return text("en" if lang == "en" else "fr", "timeline_" + key, **values)


def dated_quote_html(c: dict[str, Any], lang: str = "fr") -> str:
    """The quote, escaped, each resolved date beside its words ("vendredi (14 mars 2025)"); the
    mention that dates the entry (the citation's highlight) in <strong>."""
    from assistant.date_mentions import format_value

    quote, start = c.get("quote", ""), int(c.get("start", 0))
    hl = c.get("highlight") or {}
    out, pos = [], 0
    for d in sorted((d for d in c.get("dates") or [] if d.get("value")), key=lambda d: d["start"]):
        lo, hi = d["start"] - start, d["end"] - start
        if lo < pos or hi > len(quote):
            continue
        words = esc(quote[lo:hi])
        if (hl.get("start"), hl.get("end")) == (d["start"], d["end"]):
            words = f'<strong class="dq-hl">{words}</strong>'
        out += [esc(quote[pos:lo]), f'<span class="dq-date" data-value="{esc(d["value"])}">{words} '
                f'<span class="dq-date-value">({esc(format_value(d["value"], lang))})</span></span>']
        pos = hi
    out.append(esc(quote[pos:]))
    return " ".join("".join(out).split())


def _entry_html(e: dict[str, Any], lang: str) -> str:
    c = e["citation"]
    origin = _t(lang, e["date_from"]) if e.get("date_from") in ("event", "dispatch") else ""
    speaker = c.get("speaker")
    meta = " · ".join(esc(x) for x in (e.get("dispatch_date") or _t(lang, "undated"),
                                       e.get("source") or _t(lang, "no_agency")))
    return (f'<li class="dq-tl-entry" data-doc="{esc(e["doc_id"])}" data-date="{esc(e.get("date") or "")}">'
            f'<div class="dq-tl-date"><strong>{esc(e.get("date") or _t(lang, "undated"))}</strong>'
            + (f' <span class="dq-meta">({esc(origin)})</span>' if origin else "") + "</div>"
            f'<div class="dq-tl-quote"><span class="dq-badge">{esc(c.get("marker"))}</span> '
            f'« {dated_quote_html(c, lang)} »'
            + (f' <span class="dq-speaker">— {esc(_t(lang, "speaker"))} {esc(speaker)}</span>' if speaker else "")
            + "</div>"
            f'<div class="dq-meta dq-tl-cite">{esc(e.get("title") or e["doc_id"])} · {meta} · '
            f'{esc(c.get("source_path", "").rsplit("/", 1)[-1])} [{esc(c.get("start"))}:{esc(c.get("end"))}]</div>'
            "</li>")


def timeline_html(data: dict[str, Any] | None, message: str | None = None, lang: str = "fr") -> str:
    """The view: a prompt (no data), a message (an error), or the ordered entries."""
    if message:
        return f'<div class="dq-panel-empty dq-tl-message" role="alert">{esc(message)}</div>'
    if data is None:
        return f'<div class="dq-panel-empty">{esc(_t(lang, "empty"))}</div>'
    lang = data.get("language") or lang
    if not data.get("entries"):
        return f'<div class="dq-panel-empty dq-tl-none">{esc(_t(lang, "none"))}</div>'
    items = "".join(_entry_html(e, lang) for e in data["entries"])
    return (f'<ol class="dq-timeline" style="list-style:none;padding:0;display:flex;flex-direction:column;'
            f'gap:.8rem">{items}</ol>')


def show_timeline(pipeline: Pipeline, query: Any, date_from: Any = "", date_to: Any = "",
                  sources: Any = None) -> str:
    """The view for `query` with the chat's filters; bad input gets a message in the query's language."""
    from assistant.language import question_language
    from assistant.pipeline import QueryFilters
    from assistant.timeline import timeline_json

    query = query.strip() if isinstance(query, str) else ""
    if not query:
        return timeline_html(None)
    lang = question_language(query)
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        value = (value or "").strip() if isinstance(value, str) else ""
        if value and not _DATE_RE.match(value):
            return timeline_html(None, _t(lang, "bad_date", field=name, value=value))
    if pipeline.is_empty():
        return timeline_html(None, _t(lang, "empty_index"))
    filters = QueryFilters((date_from or "").strip() or None, (date_to or "").strip() or None,
                           tuple(s for s in (sources or ()) if isinstance(s, str)))
    try:
        entries = pipeline.timeline(query, filters)
    except Exception as exc:  # noqa: BLE001 - shown in the user's language, logged in full
        log.exception("timeline for %r failed", query)
        return timeline_html(None, _t(lang, "error", detail=str(exc) or type(exc).__name__))
    return timeline_html(timeline_json(query, entries, language=lang))


def timeline_tab(pipeline: Pipeline, filters: list[Any]) -> gr.HTML:
    """The Chronologie view (inside a gr.Tab): a subject box, a button, the list; `filters` are the
    chat's (date from, date to, sources) components, read when the list is built."""
    with gr.Row():
        query = gr.Textbox(show_label=False, scale=8, lines=1, elem_id="dq-timeline-query",
                           placeholder=label("timeline_placeholder"))
        show = gr.Button(label("timeline_go"), variant="primary", scale=1, min_width=80, elem_id="dq-timeline-go")
    view = gr.HTML(timeline_html(None), js_on_load=None, elem_id="dq-timeline", container=True, padding=True)

    def build(q: str, date_from: str, date_to: str, sources: list[str] | None) -> str:
        return show_timeline(pipeline, q, date_from, date_to, sources)

    for event in (query.submit, show.click):
        event(build, inputs=[query, *filters], outputs=[view], api_visibility="private")
    return view
