"""The interface's words: one French/English table, every label of the built app taken from it,
and the pure parts of filters and the library view (ui/filters.py, ui/library_view.py)."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest
from conftest import make_settings

from ui import filters
from ui.i18n import STRINGS, text, translations, ui_language
from ui.library_view import delete_question, document_rows, index_summary_html, status_line

SAME_IN_BOTH = {"col_date", "assistant", "download", "sources", "passage", "question"}  # the same word in both languages
TEXT_PROPS = ("label", "placeholder", "value")


def test_every_string_has_both_languages_and_they_differ():
    for key, entry in STRINGS.items():
        assert set(entry) == {"fr", "en"} and all(v.strip() for v in entry.values()), key
        if key not in SAME_IN_BOTH:
            assert entry["fr"] != entry["en"], key
    assert translations(suffixes=".txt")["fr"]["upload"] == "Ajouter des dépêches (.txt)"


def test_ui_language_follows_the_browser():
    assert ui_language("fr-FR") == "fr" and ui_language("fr-CA,fr;q=0.9") == "fr"
    assert ui_language("en-GB") == "en" and ui_language("de-DE,fr;q=0.8") == "fr"
    assert ui_language("") == "en" and ui_language(None) == "en" and ui_language("de") == "en"


def _texts(block: gr.blocks.Block):
    for prop in TEXT_PROPS:
        value = getattr(block, prop, None)
        if value is not None:
            yield prop, value


def _i18n_key(value):
    """The key of a translated text (an I18nData, or its string form once a component stored it)."""
    if isinstance(value, gr.i18n.I18nData):
        return value.key
    if isinstance(value, str) and value.startswith("__i18n__"):
        return json.loads(value[len("__i18n__"):])["key"]
    return None


def test_every_label_of_the_built_app_is_a_translated_key(tmp_path):
    """Walk the Blocks: a label, placeholder or button text that is a plain string would stay in one
    language whatever the switch says."""
    from ui.app import build_app

    demo = build_app(object(), make_settings(tmp_path / "data"))
    checked = 0
    for block in demo.blocks.values():
        if isinstance(block, (gr.State, gr.BrowserState, gr.HTML, gr.Markdown, gr.Timer)) or type(block).__name__ == "Api":
            continue  # no label (HTML is drawn in Python with the language; Api is not on the page)
        if not getattr(block, "visible", True):
            continue
        for prop, value in _texts(block):
            if prop == "value" and not isinstance(block, gr.Button):
                continue  # a field's content, not a label
            if value in ("", None) or isinstance(value, (list, dict)):
                continue
            key = _i18n_key(value)
            assert key is not None, f"{type(block).__name__}.{prop} = {value!r} is not translated"
            assert key in STRINGS

            checked += 1
    assert checked >= 15


def test_filter_checks_in_the_interface_language():
    assert filters.filter_problem("2025-03", "2025-03-31", "fr") is None
    assert filters.filter_problem("", "", "en") is None
    assert "2025-13" in filters.filter_problem("2025-13", "", "fr") and "calendrier" in \
        filters.filter_problem("2025-13", "", "fr")
    assert "calendar date" in filters.filter_problem("", "2025-02-30", "en")
    assert "après" in filters.filter_problem("2025-04", "2025-03", "fr")
    assert "after" in filters.filter_problem("2025-03-02", "2025-03-01", "en")
    assert filters.filter_problem("2025-03", "2025-03", "en") is None  # a month is a range


def test_filters_sentence_says_what_was_searched():
    assert filters.filters_sentence("2025-03", "2025-03", ["AFP"], "fr") == \
        "Parmi les dépêches de l’AFP de mars 2025."
    assert filters.filters_sentence("2025-03", "2025-03", ["AFP"], "en") == "Among the dispatches from AFP of March 2025."
    assert filters.filters_sentence("", "2025-03-14", ["Reuters", filters.UNKNOWN_AGENCY], "fr") == \
        "Parmi les dépêches de Reuters ou d’agence inconnue jusqu’à 14 mars 2025."
    assert filters.filters_sentence("2025-01", "2025-03", [], "en") == \
        "Among the dispatches between January 2025 and March 2025."
    assert filters.filters_sentence("", "", [], "fr") == ""


def test_unknown_agency_is_the_empty_source_and_a_chip():
    assert filters.query_sources(["AFP", filters.UNKNOWN_AGENCY, "AFP"]) == ("AFP", "")
    assert filters.source_choices(["AFP"], "fr")[-1] == ("agence inconnue", filters.UNKNOWN_AGENCY)
    chips = filters.chips_html("2025-03", "", [filters.UNKNOWN_AGENCY, "<b>x</b>"], "en")
    assert "from 2025-03" in chips and "unknown agency" in chips and "&lt;b&gt;" in chips
    assert filters.chips_html("", "", [], "fr") == ""


def test_status_line_is_compact_with_details_behind_a_toggle():
    html = status_line({"documents": 2, "chunks": 38, "embedding_model": "intfloat/m", "store_mode": "embedded",
                        "store_location": "/d/chroma", "last_indexed_at": "2025-01-01T00:00:00+0000"}, "fr")
    head, details = html.split("<details", 1)
    assert "<b>2</b> dépêches" in head and "<b>38</b> passages" in head and "2025-01-01" in head
    assert "intfloat/m" not in head and "intfloat/m" in details and "/d/chroma" in details


def test_summary_lists_every_refused_file_by_name():
    report = {"added": ["a.txt"], "updated": [], "unchanged": 2, "removed": [],
              "failed": [{"file": "/lib/bad.json", "reason": "malformed JSON"}]}
    html = index_summary_html(report, "en", [{"file": "/tmp/x/rapport.txt", "reason": "binary file: a PDF"}])
    assert "1 added" in html and "2 unchanged" in html and "2 refused" in html
    assert "rapport.txt" in html and "a PDF" in html and "bad.json" in html and "/tmp/x" not in html
    assert "2 refusées" in index_summary_html(report, "fr", [{"file": "x", "reason": "r"}])


def test_delete_question_names_the_dispatch_and_its_file(tmp_path):
    doc = {"doc_id": "robot.txt", "title": "Un robot", "source_path": str(tmp_path / "library" / "robot.txt")}
    q = delete_question(doc, Path(doc["source_path"]), shared=False, lang="fr")
    assert "« Un robot »" in q and "robot.txt" in q and "effacé du disque" in q
    assert "stays on disk" in delete_question(doc, None, shared=False, lang="en")
    assert "stays on disk" in delete_question(doc, Path(doc["source_path"]), shared=True, lang="en")


def test_document_rows_search_and_origin(tmp_path):
    lib = tmp_path / "library"
    docs = [{"doc_id": "a.txt", "title": "Koursk", "date": "2025", "source": "AFP", "chunks": 3,
             "source_path": str(lib / "a.txt")},
            {"doc_id": "b.txt", "title": "Lune", "date": None, "source": None, "chunks": 1,
             "source_path": str(tmp_path / "seeds" / "b.txt")}]
    rows, matched = document_rows(docs, "", lib, "fr")
    assert matched == 2 and rows[0][5] == text("fr", "origin_upload") and rows[1][5] == "indexée"
    rows, matched = document_rows(docs, "afp", lib)
    assert matched == 1 and rows[0][4] == "a.txt"
    rows, matched = document_rows(docs, "", lib, limit=1)
    assert matched == 2 and len(rows) == 1


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_text_fills_values(lang):
    assert "7" in text(lang, "count", n=7)
