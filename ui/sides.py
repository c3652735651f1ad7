"""Sources that disagree, shown side by side: each side's speaker, then its quotes with their markers.

Pure: reads the answer's `disagreement` ([{"speaker": str | None, "markers": [int]}] | None) and its
citations; sides whose markers match no citation are left out, and fewer than two sides draw nothing.
"""

from __future__ import annotations

from typing import Any

from ui.i18n import text as say
from ui.markup import esc, marker_button
from ui.quotes import quote_html


def disagreement_html(answer: dict[str, Any], turn: int) -> str:
    lang = answer.get("language") or "fr"
    by_marker = {c.get("marker"): c for c in answer.get("citations") or []}
    columns = []
    for side in answer.get("disagreement") or []:
        if not isinstance(side, dict):
            continue
        cited = [by_marker[m] for m in side.get("markers") or [] if m in by_marker]
        if not cited:
            continue
        who = side.get("speaker") or say(lang, "own_voice")
        quotes = "".join(f'<p class="dq-side-quote">« {quote_html(c, lang)} »{marker_button(turn, c["marker"])}</p>'
                         for c in cited)
        columns.append(f'<div class="dq-side"><div class="dq-side-who">{esc(who)}</div>{quotes}</div>')
    if len(columns) < 2:
        return ""
    title = esc(say(lang, "disagreement"))
    return (f'<div class="dq-disagreement" role="group" aria-label="{title}">'
            f'<div class="dq-disagreement-head">{title}</div><div class="dq-sides">{"".join(columns)}</div></div>')
