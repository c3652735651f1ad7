"""The smallest pieces of the chat's markup, shared by ui/render.py, ui/cards.py and ui/quotes.py.

Everything that comes from a dispatch or a user goes through `esc`: it is shown as text, so no
markup, script, image or link in a dispatch is ever interpreted by the browser.
"""

from __future__ import annotations

import html
from pathlib import PurePath
from typing import Any

from ui.i18n import text as say


def esc(text: Any) -> str:
    """Text -> inert HTML text. Braces, `$` and backticks too: gr.HTML evaluates its template as JS."""
    s = html.escape("" if text is None else str(text), quote=True)
    return s.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;").replace("`", "&#96;")


def one_line(text: str) -> str:
    return " ".join(text.split())


def marker_button(turn: int, marker: int) -> str:
    """A citation marker: `data-marker` and the label "citation N" are stable hooks for tests and users' scripts."""
    return (f'<button type="button" class="dq-cite" data-marker="{marker}" aria-label="citation {marker}" '
            f'data-cite="{marker}" data-turn="{turn}" data-kind="citation" title="[{marker}]">{marker}</button>')


SHORT_ID_MAX = 28


def short_id(doc_id: Any) -> str:
    """A dispatch id a journalist can read on one line: its last path part, long ones cut in the middle."""
    name = PurePath(str(doc_id or "")).name or str(doc_id or "")
    if len(name) <= SHORT_ID_MAX:
        return name
    keep = (SHORT_ID_MAX - 1) // 2
    return name[:keep] + "…" + name[-keep:]


def sheet_close_button(lang: str) -> str:
    """The phone sheet's close button (hidden on a wide screen, where the panel stays beside the chat)."""
    return (f'<button type="button" class="dq-sheet-close" data-close="1" aria-label="{esc(say(lang, "close_label"))}">'
            f'{esc(say(lang, "close"))}</button>')
