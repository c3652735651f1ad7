"""The web chat's components, laid out: built empty (the callbacks fill them once the page loads).

ui/app.py wires these components to its callbacks; nothing here reads the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui import render
from ui.i18n import WATCH_UPLOAD_JS, label
from ui.library import UPLOAD_SUFFIXES
from ui.library_view import document_columns, selected_html
from ui.theme import CLICKS_JS, SCROLL_TO_MARK_JS


def dispatch_placeholder(lang: str = "en") -> str:
    return f'<div class="dq-panel-empty">{render.esc(render.t(lang, "no_dispatch"))}</div>'


@dataclass
class ChatTab:
    transcript: gr.HTML
    chips: gr.HTML
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
    selected: gr.HTML
    delete: gr.Button
    confirm_box: gr.Group
    confirm_text: gr.HTML
    confirm: gr.Button
    cancel: gr.Button
    preview: gr.HTML


def header() -> gr.Button:
    """The title and the language switch (it shows the code of the language it switches to)."""
    with gr.Row(elem_classes="dq-header"):
        gr.HTML("<h1>Dispatch QA</h1>", js_on_load=None)
        switch = gr.Button(label("switch_language"), size="sm", scale=0, min_width=56, elem_id="dq-lang")
    return switch


def chat_tab(examples: list[str]) -> ChatTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            transcript = gr.HTML(render.transcript_html([], examples), js_on_load=CLICKS_JS,
                                 elem_id="dq-transcript", max_height=640, container=True, padding=True)
            chips = gr.HTML("", js_on_load=None, elem_id="dq-chips")
            with gr.Row():
                question = gr.Textbox(label=label("question_label"), show_label=False, scale=8, lines=1, max_lines=5, autofocus=True,
                                      placeholder=label("question_placeholder"), elem_id="dq-question")
                send = gr.Button(label("ask"), variant="primary", scale=1, min_width=80, elem_id="dq-send")
            with gr.Row():
                new_chat = gr.Button(label("new_chat"), size="sm", elem_id="dq-new-chat")
            with gr.Accordion(label("filters"), open=False, elem_id="dq-filters"):
                with gr.Row():
                    date_from = gr.Textbox(label=label("date_from"), placeholder=label("date_placeholder"),
                                           elem_id="dq-date-from")
                    date_to = gr.Textbox(label=label("date_to"), placeholder=label("date_placeholder"),
                                         elem_id="dq-date-to")
                sources = gr.Dropdown(label=label("sources_filter"), choices=[], multiselect=True,
                                      allow_custom_value=True, elem_id="dq-sources-filter")
        # The evidence column: the dispatch viewer first, so the passage opens beside the claim (ui/theme.py).
        with gr.Column(scale=4, elem_id="dq-evidence"):
            dispatch = gr.HTML(dispatch_placeholder(), js_on_load=SCROLL_TO_MARK_JS, elem_id="dq-dispatch",
                               container=True, padding=True)
            sources_panel = gr.HTML(render.sources_html(None, 0), js_on_load=CLICKS_JS, elem_id="dq-sources",
                                    container=True, padding=True)
    return ChatTab(transcript, chips, question, send, new_chat, date_from, date_to, sources, sources_panel, dispatch)


def library_tab() -> LibraryTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = gr.File(label=label("upload"), file_count="multiple",
                             file_types=list(UPLOAD_SUFFIXES), elem_id="dq-upload")
            summary = gr.HTML("", js_on_load=WATCH_UPLOAD_JS, elem_id="dq-summary")
            reindex = gr.Button(label("reindex"), elem_id="dq-reindex")
        with gr.Column(scale=5):
            search = gr.Textbox(label=label("search"), placeholder=label("search_placeholder"), elem_id="dq-search")
            count_note = gr.Markdown("", elem_id="dq-count")
            table = gr.Dataframe(value=[], headers=document_columns("en"), interactive=False, wrap=True,
                                 max_height=420, elem_id="dq-docs",
                                 column_widths=["37%", "11%", "12%", "10%", "20%", "10%"],
                                 datatype=["str", "str", "str", "number", "str", "str"])
            with gr.Row():
                selected = gr.HTML(selected_html(None, "en"), js_on_load=None, elem_id="dq-selected")
                delete = gr.Button(label("delete"), variant="stop", scale=0, min_width=160, elem_id="dq-delete")
            with gr.Group(visible=False, elem_id="dq-confirm") as confirm_box:
                confirm_text = gr.HTML("", js_on_load=None, elem_id="dq-confirm-text")
                with gr.Row():
                    cancel = gr.Button(label("cancel"), elem_id="dq-cancel-delete")
                    confirm = gr.Button(label("confirm_delete"), variant="stop", elem_id="dq-confirm-delete")
            preview = gr.HTML("", js_on_load=None, elem_id="dq-preview")
    return LibraryTab(upload, summary, reindex, search, count_note, table, selected, delete, confirm_box,
                      confirm_text, confirm, cancel, preview)
