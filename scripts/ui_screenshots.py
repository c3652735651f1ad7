"""Screenshots of the web chat for the README: the seed question answered, its first citation open,
at a laptop size (1366×900) and a phone size (390×844), in French.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/ui_screenshots.py [--out docs/screenshots]

Indexes the repository's seeds/ into a temporary data dir, serves the chat on a free loopback port,
and drives Debian chromium (/usr/bin/chromium) with Playwright. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
QUESTION = "Que demande Poutine pour un cessez-le-feu ?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for name, viewport in SIZES.items():
            context = browser.new_context(viewport=viewport, locale="fr-FR")
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url, wait_until="load")
            page.wait_for_selector("#dq-transcript .dq-example")
            page.fill("#dq-question textarea", QUESTION)
            page.press("#dq-question textarea", "Enter")
            page.wait_for_selector("#dq-transcript .dq-answered")
            page.locator("#dq-transcript button.dq-cite").first.click()
            page.wait_for_selector("#dq-dispatch mark")
            page.wait_for_timeout(500)  # the passage scrolled into view
            path = out / f"chat-{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)
            context.close()
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from assistant.pipeline import open_pipeline
    from assistant.settings import Settings
    from ui import guard
    from ui.app import build_app, launch_options, queue, seed_if_empty

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", port=_free_port())
        pipeline = open_pipeline(settings)
        seed_if_empty(pipeline)
        demo = queue(build_app(pipeline, settings), settings)
        demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(settings))
        try:
            for path in shoot(demo.local_url, args.out):
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
        finally:
            demo.close()
            pipeline.close()
            guard.remove_temp_dir(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
