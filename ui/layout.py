"""The web chat's components, laid out: built empty (the callbacks fill them once the page loads).

ui/app.py wires these components to its callbacks; nothing here reads the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui import render
from ui.library import UPLOAD_SUFFIXES
from ui.theme import CLICKS_JS, SCROLL_TO_MARK_JS


def dispatch_placeholder(lang: str = "en") -> str:
    return f'<div class="dq-panel-empty">{render.esc(render.t(lang, "no_dispatch"))}</div>'


@dataclass
class ChatTab:
    transcript: gr.HTML
    question: gr.Textbox
    send: gr.Button
    new_chat: gr.Button
    date_from: gr.Textbox
    date_to: gr.Textbox
    sources: gr.Dropdown
    sources_panel: gr.HTML
    dispatch: gr.HTML


@dataclass
class LibraryTab:
    upload: gr.File
    summary: gr.HTML
    reindex: gr.Button
    search: gr.Textbox
    count_note: gr.Markdown
    table: gr.Dataframe
    selected: gr.Textbox
    delete: gr.Button
    preview: gr.HTML


def chat_tab(examples: list[str]) -> ChatTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            transcript = gr.HTML(render.transcript_html([], examples), js_on_load=CLICKS_JS,
                                 elem_id="dq-transcript", max_height=640, container=True, padding=True)
            with gr.Row():
                question = gr.Textbox(show_label=False, scale=8, lines=1, max_lines=5, autofocus=True,
                                      placeholder="Ask about the dispatches… / Posez votre question…",
                                      elem_id="dq-question")
                send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="dq-send")
            with gr.Row():
                new_chat = gr.Button("New chat", size="sm", elem_id="dq-new-chat")
            with gr.Accordion("Filters", open=False, elem_id="dq-filters"):
                with gr.Row():
                    date_from = gr.Textbox(label="From date", placeholder="YYYY[-MM[-DD]]", elem_id="dq-date-from")
                    date_to = gr.Textbox(label="To date", placeholder="YYYY[-MM[-DD]]", elem_id="dq-date-to")
                sources = gr.Dropdown(label="Sources / agencies", choices=[], multiselect=True,
                                      allow_custom_value=True, elem_id="dq-sources-filter")
        # The evidence column: the dispatch viewer first, so the passage opens beside the claim (ui/theme.py).
        with gr.Column(scale=4, elem_id="dq-evidence"):
            dispatch = gr.HTML(dispatch_placeholder(), js_on_load=SCROLL_TO_MARK_JS, elem_id="dq-dispatch",
                               container=True, padding=True)
            sources_panel = gr.HTML(render.sources_html(None, 0), js_on_load=CLICKS_JS, elem_id="dq-sources",
                                    container=True, padding=True)
    return ChatTab(transcript, question, send, new_chat, date_from, date_to, sources, sources_panel, dispatch)


def library_tab() -> LibraryTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = gr.File(label=f"Upload articles ({', '.join(UPLOAD_SUFFIXES)})", file_count="multiple",
                             file_types=list(UPLOAD_SUFFIXES), elem_id="dq-upload")
            summary = gr.HTML("", js_on_load=None, elem_id="dq-summary")
            reindex = gr.Button("Re-index all folders", elem_id="dq-reindex")
        with gr.Column(scale=5):
            search = gr.Textbox(label="Search dispatches", placeholder="title, date, source, id…",
                                elem_id="dq-search")
            count_note = gr.Markdown("", elem_id="dq-count")
            table = gr.Dataframe(value=[], headers=render.DOCUMENT_COLUMNS, interactive=False, wrap=True,
                                 max_height=420, elem_id="dq-docs",
                                 column_widths=["37%", "11%", "12%", "10%", "20%", "10%"],
                                 datatype=["str", "str", "str", "number", "str", "str"])
            with gr.Row():
                selected = gr.Textbox(label="Selected dispatch id", scale=4, elem_id="dq-selected")
                delete = gr.Button("Delete dispatch", variant="stop", scale=1, elem_id="dq-delete")
            preview = gr.HTML("", js_on_load=None, elem_id="dq-preview")
    return LibraryTab(upload, summary, reindex, search, count_note, table, selected, delete, preview)
