"""The web chat's interface in a real browser (Playwright + Debian chromium, real server), at a laptop
size (1366×900) and a phone size (390×844): one language at a time, filters that say what they do, a
library that asks before deleting and names every refused file, a conversation kept across a reload.

Screenshots of every test land in test-artifacts/ui/.
"""

from __future__ import annotations

import logging

import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import ARTIFACTS, SEED_QUESTION, article, chromium_or_skip, launch_in_thread, private_copy

from ui.i18n import STRINGS

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

SIZES = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
GRADIO_DROP = {"fr": "Déposez le fichier ici", "en": "Drop File Here"}
# What the page shows as labels: Gradio's label spans, buttons, tabs, placeholders, table headers.
VISIBLE_LABELS_JS = """() => {
  const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const out = [];
  for (const el of document.querySelectorAll('label, button, [role=tab], th, span[data-testid=block-info], '
                                             + '.dq-status, .dq-empty, .dq-panel-empty, .dq-selected')) {
    if (shown(el)) out.push(el.innerText.trim());
  }
  for (const el of document.querySelectorAll('textarea, input')) {
    if (shown(el) && el.placeholder) out.push(el.placeholder.trim());
  }
  return out.filter(Boolean);
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, seeds_settings, embedder):
    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "browser-core"))
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


def open_page(browser, app, request, size="1366", locale="fr-FR"):
    context = browser.new_context(viewport=SIZES[size], locale=locale)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(app["url"], wait_until="load")
    page.wait_for_selector("#dq-transcript .dq-example, #dq-transcript .dq-msg")
    request.addfinalizer(lambda: (ARTIFACTS.mkdir(parents=True, exist_ok=True),
                                  page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True),
                                  context.close()))
    return page


def wait_language(page, lang: str) -> None:
    """The load callback has drawn the page in `lang` (the status line is written in it)."""
    word = STRINGS["status_documents"][lang]
    page.wait_for_function(f"(document.querySelector('#dq-status')?.innerText || '').includes('{word}')")


def other_language_words(lang: str) -> set[str]:
    other = "en" if lang == "fr" else "fr"
    return {e[other] for e in STRINGS.values() if e[other] != e[lang] and "{" not in e[other] and len(e[other]) > 2}


def assert_one_language(page, lang: str) -> None:
    labels = page.evaluate(VISIBLE_LABELS_JS)
    foreign = other_language_words(lang) | {GRADIO_DROP["en" if lang == "fr" else "fr"]}
    leaks = [t for t in labels if any(line.strip() in foreign for line in t.split("\n"))]
    assert not leaks, f"{lang} page shows words of the other language: {leaks}"


def ask(page, question: str) -> None:
    before = page.locator("#dq-transcript .dq-bot").count()
    page.fill("#dq-question textarea", question)
    page.press("#dq-question textarea", "Enter")
    page.wait_for_function(f"document.querySelectorAll('#dq-transcript .dq-bot').length > {before} && "
                           "!document.querySelector('#dq-transcript .dq-streaming')")


def open_library(page, lang: str) -> None:
    page.get_by_role("tab", name=STRINGS["tab_library"][lang]).click()
    page.wait_for_selector("#dq-upload")


@pytest.mark.parametrize("size", SIZES)
def test_one_language_at_a_time_and_the_switch(browser, app, request, size):
    page = open_page(browser, app, request, size, locale="fr-FR")
    wait_language(page, "fr")
    assert_one_language(page, "fr")
    open_library(page, "fr")
    assert GRADIO_DROP["fr"] in page.inner_text("#dq-upload")  # Gradio's own words follow the same locale
    assert_one_language(page, "fr")

    page.click("#dq-lang")  # to English: stored in this browser, the page drawn again
    wait_language(page, "en")
    page.wait_for_selector("#dq-tab-chat", state="attached")
    assert_one_language(page, "en")
    open_library(page, "en")
    assert GRADIO_DROP["en"] in page.inner_text("#dq-upload")
    assert_one_language(page, "en")
    page.click("#dq-lang")  # and back: the choice is per browser, a fresh context starts from its locale
    wait_language(page, "fr")


@pytest.mark.parametrize("size", SIZES)
def test_filter_chips_and_checks_keep_the_question(browser, app, request, size, caplog):
    page = open_page(browser, app, request, size, locale="fr-FR")
    wait_language(page, "fr")
    page.get_by_text(STRINGS["filters"]["fr"], exact=True).click()
    page.fill("#dq-date-from textarea, #dq-date-from input", "2025-13")
    page.fill("#dq-question textarea", SEED_QUESTION)
    page.wait_for_function("(document.querySelector('#dq-chips')?.innerText || '').includes('depuis 2025-13')")
    with caplog.at_level(logging.WARNING):
        page.press("#dq-question textarea", "Enter")
        page.wait_for_selector("#dq-chips .dq-filter-problem")
    problem = page.inner_text("#dq-chips .dq-filter-problem")
    assert "« 2025-13 » n’est pas une date du calendrier" in problem
    assert page.input_value("#dq-question textarea") == SEED_QUESTION  # kept, to send again
    assert page.locator("#dq-transcript .dq-msg").count() == 0
    assert not [r for r in caplog.records if r.exc_info], "a user's bad date is not a traceback"

    page.fill("#dq-date-from textarea, #dq-date-from input", "2025-04")
    page.fill("#dq-date-to textarea, #dq-date-to input", "2025-03")
    page.click("#dq-send")
    page.wait_for_function("(document.querySelector('#dq-chips')?.innerText || '').includes('après la date de fin')")
    assert page.input_value("#dq-question textarea") == SEED_QUESTION

    page.fill("#dq-date-from textarea, #dq-date-from input", "2025-03")
    page.wait_for_function("!document.querySelector('#dq-chips .dq-filter-problem')"
                           " || document.querySelector('#dq-chips').innerText.includes('depuis 2025-03')")
    ask(page, SEED_QUESTION)
    turn = page.locator("#dq-transcript .dq-bot").last
    assert "Parmi les dépêches de mars 2025." in turn.inner_text()
    chips = page.inner_text("#dq-chips")
    assert "depuis 2025-03" in chips and "jusqu’à 2025-03" in chips
    page.click("#dq-sources-filter input")
    expect_option = page.get_by_role("option", name=STRINGS["unknown_agency"]["fr"])
    assert expect_option.count() == 1


def test_delete_asks_first_and_cancel_keeps_the_dispatch(browser, app, request, tmp_path):
    from playwright.sync_api import expect

    library = app["settings"].library_dir
    article(library / "phare.txt", "Le phare du Créac'h repeint", "La mairie d'Ouessant a fait repeindre le phare.")
    app["pipeline"].index([library])
    page = open_page(browser, app, request, "1366", locale="en-US")
    wait_language(page, "en")
    open_library(page, "en")
    cells = page.locator("#dq-docs .body-cell")
    cells.filter(has_text="phare.txt").first.click()
    expect(page.locator("#dq-selected")).to_contain_text("phare.txt")
    page.click("#dq-delete")
    question = page.locator("#dq-confirm-text")
    expect(question).to_contain_text("Le phare du Créac'h repeint")
    expect(question).to_contain_text("will be deleted from disk")
    page.click("#dq-cancel-delete")
    expect(page.locator("#dq-summary")).to_contain_text("Deletion cancelled")
    assert (library / "phare.txt").exists() and app["pipeline"].document("phare.txt") is not None

    page.click("#dq-delete")
    page.click("#dq-confirm-delete")
    expect(page.locator("#dq-summary")).to_contain_text("Deleted phare.txt")
    expect(cells.filter(has_text="phare.txt")).to_have_count(0)
    assert not (library / "phare.txt").exists() and app["pipeline"].document("phare.txt") is None


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_upload_is_named_with_its_reason_and_the_box_resets(browser, app, request, tmp_path, size):
    from playwright.sync_api import expect

    fake = tmp_path / f"rapport-{size}.txt"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\nTexte lisible.\n")
    good = article(tmp_path / f"brest-{size}.txt", "Le port de Brest s'agrandit",
                   "Le conseil municipal de Brest a vote 12 millions d'euros pour le port.")
    page = open_page(browser, app, request, size, locale="fr-FR")
    wait_language(page, "fr")
    open_library(page, "fr")
    pdf = tmp_path / f"notes-{size}.pdf"  # a type the upload box itself drops: named all the same
    pdf.write_bytes(b"%PDF-1.4\n")
    page.set_input_files("#dq-upload input[type=file]", [str(fake), str(good), str(pdf)])
    expect(page.locator("#dq-summary .dq-summary-counts")).to_contain_text("1 ajoutées")
    summary = page.inner_text("#dq-summary")
    assert "2 refusées" in summary and fake.name in summary and "PDF" in summary
    assert pdf.name in summary and "type de fichier non accepté .pdf" in summary
    expect(page.locator("#dq-upload")).to_contain_text(GRADIO_DROP["fr"])  # empty again, no stuck error
    assert page.locator("#dq-upload .error, #dq-upload [data-testid=error]").count() == 0
    assert not (app["settings"].library_dir / fake.name).exists()


@pytest.mark.parametrize("size", SIZES)
def test_reload_keeps_the_conversation_and_new_chat_clears_it(browser, app, request, size):
    page = open_page(browser, app, request, size, locale="fr-FR")
    ask(page, SEED_QUESTION)
    page.wait_for_timeout(500)  # the browser stores the last turn after the stream ends
    page.reload(wait_until="load")
    page.wait_for_selector("#dq-transcript .dq-user")
    assert page.locator("#dq-transcript .dq-user .dq-text").inner_text() == SEED_QUESTION
    assert page.locator("#dq-sources .dq-card").count() >= 1
    page.click("#dq-new-chat")
    page.wait_for_selector("#dq-transcript .dq-example")
    page.wait_for_timeout(500)
    page.reload(wait_until="load")
    wait_language(page, "fr")
    page.wait_for_selector("#dq-transcript .dq-example")
    assert page.locator("#dq-transcript .dq-msg").count() == 0
