"""The chat's Chronologie view: the pure HTML on plain data, the callback on the seeds, and a real browser."""

from __future__ import annotations

import re

import pytest
from conftest import SEED_DATED, SEED_UNDATED, make_settings, open_pipeline
from ui_fixtures import ARTIFACTS, chromium_or_skip, launch_in_thread, private_copy

from ui.timeline import dated_quote_html, show_timeline, timeline_html

QUOTE = "Poutine a appelé vendredi les <soldats>."
CITATION = {"marker": 1, "doc_id": "a.txt", "source_path": "/x/a.txt", "quote": QUOTE, "start": 100,
            "end": 100 + len(QUOTE), "highlight": {"start": 117, "end": 125}, "speaker": "le Kremlin",
            "dates": [{"text": "vendredi", "start": 117, "end": 125, "value": "2025-03-14"}]}
DATA = {"language": "fr", "entries": [
    {"date": "2025-03-14", "date_from": "event", "doc_id": "a.txt", "title": "Titre", "dispatch_date": "2025-03-15",
     "source": "AFP", "citation": CITATION},
    {"date": None, "date_from": None, "doc_id": "b.txt", "title": None, "dispatch_date": None, "source": None,
     "citation": {**CITATION, "marker": 2, "dates": [], "speaker": None, "highlight": None}}]}


def test_entries_in_order_with_dates_beside_the_words_speaker_and_citation():
    html = timeline_html(DATA)
    assert re.findall(r'data-doc="([^"]+)"', html) == ["a.txt", "b.txt"]
    assert ('<strong class="dq-hl">vendredi</strong> <span class="dq-date-value">(14 mars 2025)</span>' in html)
    assert "&lt;soldats&gt;" in html and "<soldats>" not in html
    assert "selon le Kremlin" in html and "(date du fait)" in html and "sans date" in html
    assert "Titre · 2025-03-15 · AFP · a.txt [100:140]" in html


def test_a_quote_without_resolved_dates_is_left_as_is():
    c = {**CITATION, "dates": [{"text": "vendredi", "start": 117, "end": 125, "value": None}]}
    assert dated_quote_html(c) == "Poutine a appelé vendredi les &lt;soldats&gt;."


def test_empty_prompt_no_match_and_messages_follow_the_language():
    assert "Donnez un sujet" in timeline_html(None)
    assert "No dispatch matches" in timeline_html({"language": "en", "entries": []})
    assert 'role="alert"' in timeline_html(None, "oops")


def test_callback_on_the_seeds_with_the_chat_filters(seeds_pipeline):
    html = show_timeline(seeds_pipeline, "Koursk")
    assert re.findall(r'data-doc="([^"]+)"', html) == [SEED_DATED, SEED_UNDATED]
    assert "dq-date-value" not in html  # "vendredi" in a dispatch dated 2025-03: never a guessed day
    filtered = show_timeline(seeds_pipeline, "Koursk", "2025-03", "", [])
    assert re.findall(r'data-doc="([^"]+)"', filtered) == [SEED_DATED]
    assert "date_from : « mars » n&#x27;est pas une date" in show_timeline(seeds_pipeline, "Koursk", "mars")
    assert "date_to: &#x27;March&#x27; is not a date" in show_timeline(seeds_pipeline, "What about Kursk?", "", "March")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting")
def test_the_chronologie_tab_lists_the_seed_events_in_date_order(tmp_path_factory, seeds_settings, embedder):
    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "timeline-browser"))
    pipeline = open_pipeline(settings, embedder)
    demo, url = launch_in_thread(pipeline, settings)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="fr-FR")  # a French page
            page.set_default_timeout(120_000)
            page.goto(url, wait_until="load")
            page.get_by_role("tab", name="Chronologie").click()
            page.fill("#dq-timeline-query textarea", "Koursk")
            page.press("#dq-timeline-query textarea", "Enter")
            entries = page.locator("#dq-timeline .dq-tl-entry")
            expect(entries).to_have_count(2, timeout=120_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "timeline_seeds.png"), full_page=True)
            assert [entries.nth(i).get_attribute("data-doc") for i in range(2)] == [SEED_DATED, SEED_UNDATED]
            assert [entries.nth(i).get_attribute("data-date") for i in range(2)] == ["2025-03", ""]
            expect(entries.first).to_contain_text("2025-03 (date de la dépêche)")
            expect(entries.first).to_contain_text("Vladimir Poutine a appelé vendredi les soldats")
            expect(entries.first.locator(".dq-date-value")).to_have_count(0)
            expect(entries.last).to_contain_text("sans date")
            browser.close()
    finally:
        demo.close()
        pipeline.close()
