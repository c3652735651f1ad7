"""The web chat end to end in a real browser: Playwright driving Debian chromium against the launched app.

Screenshots of every test (pass or fail) land in test-artifacts/ui/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import (
    ARTIFACTS,
    FOLLOW_UP,
    OFF_TOPIC_FR,
    SEED_QUESTION,
    article,
    chromium_or_skip,
    cli,
    launch_in_thread,
    private_copy,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the dev extra is missing: chromium_or_skip() reports it below
    expect = None

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

HOSTILE = ('<script>window.__pwned = 1</script><img src="http://example.invalid/x.png" '
           'onerror="window.__pwned = 2"> {{7*7}} ${7*7}')
UPLOAD_TITLE = "Un robot cuisinier ouvre un restaurant à Lyon"
UPLOAD_QUESTION = "Combien de quenelles le robot Bocuse-3000 prépare-t-il chaque jour ?"


@pytest.fixture(scope="module")
def app(tmp_path_factory, seeds_settings, embedder):
    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "browser"))
    pipeline = open_pipeline(settings, embedder)
    demo, url = launch_in_thread(pipeline, settings)
    yield {"url": url, "pipeline": pipeline, "settings": settings}
    demo.close()
    pipeline.close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def session(app, browser):
    """One browser session (context + page) shared by the tests, with every request it makes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app["url"].rstrip("/"))
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(app["url"], wait_until="load")  # Gradio never reaches networkidle
    page.wait_for_selector("#dq-transcript .dq-example")
    yield {"page": page, "requests": requests, "context": context}
    context.close()


@pytest.fixture
def page(session, request):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield session["page"]
    session["page"].screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


def bot_turns(page) -> int:
    return page.locator("#dq-transcript .dq-bot").count()


def ask(page, question: str) -> None:
    before = bot_turns(page)
    page.fill("#dq-question textarea", question)
    page.press("#dq-question textarea", "Enter")
    page.wait_for_function(f"document.querySelectorAll('#dq-transcript .dq-bot').length > {before} && "
                           "!document.querySelector('#dq-transcript .dq-streaming')")


def last_turn(page):
    return page.locator("#dq-transcript .dq-bot").last


def one_line(text: str) -> str:
    return " ".join(text.split())


def new_chat(page) -> None:
    page.click("#dq-new-chat")
    page.wait_for_selector("#dq-transcript .dq-example")


def test_seed_question_streams_a_cited_answer(page, app):
    # Record whether a partial answer (with its caret) was ever on screen before the final one.
    page.evaluate("""() => {
      window.__sawStreaming = false;
      const box = document.querySelector('#dq-transcript');
      new MutationObserver(() => { if (box.querySelector('.dq-caret')) window.__sawStreaming = true; })
        .observe(box, {childList: true, subtree: true});
    }""")
    ask(page, SEED_QUESTION)
    turn = last_turn(page)
    assert "dq-answered" in turn.get_attribute("class")
    assert turn.locator("button.dq-cite").count() >= 1
    assert page.evaluate("window.__sawStreaming"), "the answer should appear progressively"
    cards = page.locator("#dq-sources button.dq-card-citation")
    assert cards.count() == turn.locator("button.dq-cite").count()
    assert "Sources" in page.inner_text("#dq-sources")


def test_clicking_a_citation_shows_the_highlighted_passage(page, app):
    expected = app["pipeline"].ask(SEED_QUESTION).citations
    last_turn(page).locator("button.dq-cite").first.click()
    page.wait_for_selector("#dq-dispatch mark")
    assert one_line(page.inner_text("#dq-dispatch mark")) == one_line(expected[0].quote)
    head = page.inner_text("#dq-dispatch .dq-doc-head")
    assert expected[0].source_path in head and f"{expected[0].start}–{expected[0].end}" in head
    assert (expected[0].title or "")[:40] in head
    if len(expected) > 1:  # a source card opens its own passage
        page.locator("#dq-sources button.dq-card-citation").nth(1).click()
        page.wait_for_function("(q) => { const m = document.querySelector('#dq-dispatch mark');"
                               " return m && m.innerText.replace(/\\s+/g, ' ').trim() === q; }",
                               arg=one_line(expected[1].quote))


def test_copy_and_download_the_answer_as_markdown(page, app):
    turn = last_turn(page)
    with page.expect_download() as info:
        turn.locator("button[data-download]").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.startswith("**Question:** " + SEED_QUESTION) and "[1]" in text and "\n> " in text
    turn.locator("button[data-copy]").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.length > 0)")
    assert page.evaluate("navigator.clipboard.readText()") == text


def test_follow_up_uses_the_conversation_and_new_chat_clears_it(page, app):
    ask(page, FOLLOW_UP)
    assert page.locator("#dq-transcript .dq-user").count() == 2
    follow = last_turn(page)
    assert "dq-answered" in follow.get_attribute("class")
    assert "Kremlin" in follow.inner_text()
    notice = follow.locator(".dq-follow-up")
    assert "Compris comme la suite de « " + SEED_QUESTION in notice.inner_text()
    notice.locator("button.dq-ask-alone").click()  # the reading was wrong: ask the same words alone
    page.wait_for_function("document.querySelectorAll('#dq-transcript .dq-user').length === 3 && "
                           "!document.querySelector('#dq-transcript .dq-streaming')")
    assert last_turn(page).locator(".dq-follow-up").count() == 0
    new_chat(page)
    assert page.locator("#dq-transcript .dq-msg").count() == 0
    ask(page, FOLLOW_UP)  # the same words without the earlier turn
    assert page.locator("#dq-transcript .dq-user").count() == 1
    new_chat(page)


def test_example_question_on_an_empty_chat(page, app):
    page.locator("#dq-transcript button.dq-example").first.click()
    page.wait_for_function("document.querySelector('#dq-transcript .dq-bot') && "
                           "!document.querySelector('#dq-transcript .dq-streaming')")
    assert page.locator("#dq-transcript .dq-user").count() == 1
    new_chat(page)


def test_filters_are_checked_in_the_interface_language(page, app):
    page.click("#dq-filters")  # open the accordion
    page.fill("#dq-date-from input, #dq-date-from textarea", "hier")
    before = bot_turns(page)
    page.fill("#dq-question textarea", SEED_QUESTION)
    page.press("#dq-question textarea", "Enter")
    page.wait_for_selector("#dq-chips .dq-filter-problem")  # this browser's interface is English
    assert "“hier” is not a calendar date" in page.inner_text("#dq-chips .dq-filter-problem")
    assert bot_turns(page) == before
    assert page.input_value("#dq-question textarea") == SEED_QUESTION  # kept, to send again
    page.fill("#dq-date-from input, #dq-date-from textarea", "2025-03")
    ask(page, SEED_QUESTION)
    page.wait_for_selector("#dq-sources .dq-card")
    cited = page.inner_text("#dq-sources")
    assert "000_fb850ab909d3a4ae.txt" in cited and "004_da38df29cfe89a6a.txt" not in cited
    page.fill("#dq-date-from input, #dq-date-from textarea", "")
    new_chat(page)


def test_off_topic_question_abstains_and_shows_related_passages(page, app):
    ask(page, OFF_TOPIC_FR)
    turn = last_turn(page)
    assert "dq-abstained" in turn.get_attribute("class")
    text = turn.inner_text()
    assert "ne répondent pas à cette question" in text and "Passages liés — pas des citations" in text
    assert turn.locator("button.dq-cite").count() == 0
    assert turn.locator("button.dq-related-item").count() >= 1
    assert page.locator("#dq-sources button.dq-card-citation").count() == 0
    turn.locator("button.dq-related-item").first.click()
    page.wait_for_selector("#dq-dispatch mark")
    new_chat(page)


def test_uploaded_article_is_answered_from_with_its_text_shown_safely(page, app, tmp_path):
    path = article(tmp_path / "robot-lyon.md", f"# {UPLOAD_TITLE}",
                   "Lyon (AFP) - Un robot nommé Bocuse-3000 a servi jeudi ses premiers clients dans un restaurant "
                   "du Vieux-Lyon. Le robot prépare chaque jour 240 quenelles, selon sa conceptrice, "
                   f"l'ingénieure Camille Roux.\n\n{HOSTILE}")
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#dq-upload input[type=file]", str(path))
    page.wait_for_selector("#dq-summary .dq-summary-counts")
    summary = page.inner_text("#dq-summary")
    assert "1 added" in summary and "0 refused" in summary
    assert (app["settings"].library_dir / "robot-lyon.md").is_file()
    page.wait_for_function("document.querySelector('#dq-docs').innerText.includes('robot-lyon.md')")

    page.get_by_role("tab", name="Chat").click()
    ask(page, UPLOAD_QUESTION)
    turn = last_turn(page)
    assert "dq-answered" in turn.get_attribute("class") and "240 quenelles" in turn.inner_text()
    assert UPLOAD_TITLE in page.locator("#dq-sources button.dq-card-citation").first.inner_text()
    first = app["pipeline"].ask(UPLOAD_QUESTION).citations[0]
    assert first.doc_id == "robot-lyon.md"
    turn.locator("button.dq-cite").first.click()
    page.wait_for_selector("#dq-dispatch mark")
    assert one_line(page.inner_text("#dq-dispatch mark")) == one_line(first.quote)
    body = page.inner_text("#dq-dispatch .dq-doc-body")
    assert "<script>window.__pwned = 1</script>" in body and "{{7*7}} ${7*7}" in body  # shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#dq-dispatch img, #dq-dispatch script, #dq-transcript img").count() == 0


def test_library_lists_searches_and_deletes(page, app):
    page.get_by_role("tab", name="Library").click()
    status = page.inner_text("#dq-status")
    assert re.search(r"\b3 documents\b", status) and "last indexed" in status and "embedded" not in status
    page.click("#dq-status summary")  # the model and the store are behind a toggle
    assert "embedded" in page.inner_text("#dq-status")
    cells = page.locator("#dq-docs .body-cell")  # Gradio 6 renders rows as virtual divs
    expect(cells.filter(has_text="000_fb850ab909d3a4ae.txt")).to_have_count(1)
    page.fill("#dq-search input, #dq-search textarea", "robot")
    expect(cells.filter(has_text="000_fb850ab909d3a4ae.txt")).to_have_count(0)
    cells.filter(has_text="robot-lyon.md").first.click()
    expect(page.locator("#dq-selected")).to_contain_text("robot-lyon.md")
    expect(page.locator("#dq-preview")).to_contain_text(UPLOAD_TITLE)
    page.click("#dq-delete")
    expect(page.locator("#dq-confirm-text")).to_contain_text("will be deleted from disk")
    page.click("#dq-confirm-delete")
    expect(page.locator("#dq-summary")).to_contain_text("Deleted robot-lyon.md")
    expect(cells.filter(has_text="robot-lyon.md")).to_have_count(0)
    assert not (app["settings"].library_dir / "robot-lyon.md").exists()
    assert app["pipeline"].document("robot-lyon.md") is None
    page.fill("#dq-search input, #dq-search textarea", "")
    page.get_by_role("tab", name="Chat").click()


def test_cli_indexing_shows_up_in_the_open_page(page, app, tmp_path):
    before = app["pipeline"].status()["documents"]
    folder = tmp_path / "cli"
    article(folder / "lune.txt", "Des tomates cerises récoltées sur la Lune",
            "Les astronautes de la mission Artémis ont récolté trois kilogrammes de tomates cerises sur la Lune.")
    cli("index", str(folder), data_dir=app["settings"].data_dir)
    page.wait_for_function(f"document.querySelector('#dq-status').innerText.includes('{before + 1} documents')")
    ask(page, "Combien de kilogrammes de tomates les astronautes ont-ils récoltés sur la Lune ?")
    page.wait_for_function("document.querySelector('#dq-sources').innerText.includes('tomates cerises')")
    new_chat(page)


def test_each_browser_session_has_its_own_conversation(page, app, browser):
    ask(page, SEED_QUESTION)
    other = browser.new_context()
    try:
        second = other.new_page()
        second.goto(app["url"], wait_until="load")
        second.wait_for_selector("#dq-transcript .dq-example", timeout=120_000)
        assert second.locator("#dq-transcript .dq-msg").count() == 0
    finally:
        other.close()
    assert page.locator("#dq-transcript .dq-user").count() == 1
    new_chat(page)


def test_page_uses_system_fonts_and_loads_nothing_remote(page, session, app):
    font = page.evaluate("getComputedStyle(document.querySelector('#dq-transcript')).fontFamily")
    assert "IBM Plex" not in font and "Liberation Sans" in font
    hosts = {urlparse(u).hostname for u in session["requests"] if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts <= {"127.0.0.1", "localhost"}, f"requests left the machine: {hosts}"
