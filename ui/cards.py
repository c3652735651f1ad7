"""Source cards a journalist can scan: the dispatch's headline on one line, then agency · date ·
speaker · short id, badges for what is unknown, the quote (whole on expand) and its other versions.

Pure: citation dicts in (Answer.to_dict()), HTML out. The card's main button opens the passage in
the dispatch viewer; the expand and compare buttons sit beside it (a button cannot hold buttons).
"""

from __future__ import annotations

from typing import Any

from ui.i18n import text as say
from ui.markup import esc, short_id
from ui.quotes import quote_html
from ui.versions import versions_html

QUOTE_CLAMP_CHARS = 160  # longer quotes are clamped to three lines, with a button to show them whole


def meta_html(c: dict[str, Any], lang: str) -> str:
    """agency · date · speaker (when known) · short id, then a badge for an unknown date or agency."""
    parts = [esc(x) for x in (c.get("source"), c.get("date")) if x]
    if c.get("speaker"):
        parts.append(f'<span class="dq-speaker">{esc(say(lang, "speaker", speaker=c["speaker"]))}</span>')
    parts.append(f'<span class="dq-shortid" title="{esc(c.get("doc_id"))}">{esc(short_id(c.get("doc_id")))}</span>')
    badges = []
    if not c.get("date"):
        badges.append(f'<span class="dq-badge dq-badge-warn">{esc(say(lang, "undated_badge"))}</span>')
    if not c.get("source"):
        badges.append(f'<span class="dq-badge dq-badge-warn">{esc(say(lang, "unknown_agency_badge"))}</span>')
    return f'<span class="dq-meta">{" · ".join(parts)}{" " if badges else ""}{"".join(badges)}</span>'


def headline(c: dict[str, Any]) -> str:
    """The dispatch's title as indexed (its title field, <h1> or `title:` header, else its first
    sentence); the id when there is none. Shown on one line, ellipsed by the stylesheet."""
    return " ".join(str(c.get("title") or "").split()) or short_id(c.get("doc_id"))


def card_html(c: dict[str, Any], turn: int, kind: str, ref: int, lang: str, badge: str,
              active: tuple[str, int] | None = None) -> str:
    on = active == (kind, ref)
    extra_class = " dq-related-item" if kind == "related" else ""  # the related items' hook before cards
    badge_class = "dq-badge dq-badge-related" if kind == "related" else "dq-badge"
    title = headline(c)
    quote = c.get("quote") or ""
    expand = ""
    if len(quote) > QUOTE_CLAMP_CHARS:
        expand = (f'<button type="button" class="dq-expand" data-expand="1" aria-expanded="false" '
                  f'data-more="{esc(say(lang, "show_more"))}" data-less="{esc(say(lang, "show_less"))}">'
                  f'{esc(say(lang, "show_more"))}</button>')
    return (f'<div class="dq-card-wrap" data-doc="{esc(c.get("doc_id"))}">'
            f'<button type="button" class="dq-card dq-card-{kind}{extra_class}{" dq-active" if on else ""}" '
            f'data-cite="{ref}" '
            f'data-turn="{turn}" data-kind="{kind}" aria-pressed="{"true" if on else "false"}">'
            f'<span class="dq-card-top"><span class="{badge_class}">{esc(badge)}</span>'
            f'<span class="dq-card-title" title="{esc(title)}">{esc(title)}</span></span>'
            f'{meta_html(c, lang)}'
            f'<span class="dq-quote">« {quote_html(c, lang)} »</span></button>'
            f'{expand}{versions_html(c, turn, kind, ref, lang)}</div>')
