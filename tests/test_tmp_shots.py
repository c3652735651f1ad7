from test_ui_browser import ask, browser, last_turn  # noqa
from test_ui_evidence_browser import app, WIDE, PHONE  # noqa
from ui_fixtures import SEED_QUESTION


def test_shots(app, browser):  # noqa
    for name, vp in (("wide", WIDE), ("phone", PHONE)):
        ctx = browser.new_context(viewport=vp)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(app["url"], wait_until="load")
        page.wait_for_selector("#dq-transcript .dq-example")
        ask(page, SEED_QUESTION)
        page.screenshot(path=f"/tmp/x/{name}-0.png")
        m = last_turn(page).locator("button[data-marker='1']")
        m.scroll_into_view_if_needed()
        m.click()
        page.wait_for_selector("#dq-dispatch mark")
        page.wait_for_timeout(800)
        page.screenshot(path=f"/tmp/x/{name}-1.png")
        if name == "phone":
            page.get_by_role("button", name="Fermer la dépêche").click()
            page.locator("#dq-sources").scroll_into_view_if_needed()
            page.screenshot(path=f"/tmp/x/{name}-2.png")
        ctx.close()
