"""A citation's quote as HTML on one line: the words that answer in <strong class="dq-hl">, and each
date mention followed by the date it resolves to ("vendredi (14 mars 2025)").

Pure: reads a citation dict (Answer.to_dict()["citations"][i]); `highlight` and `dates` carry
document offsets, so they are shifted by the quote's `start`. Absent or out-of-quote spans are ignored.
"""

from __future__ import annotations

import re
from typing import Any

from ui.markup import esc

MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
_VALUE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def date_label(value: Any, lang: str) -> str | None:
    """"2025-03-14" -> "14 mars 2025" / "14 March 2025"; "2025-03" -> "mars 2025"; anything else -> None."""
    m = _VALUE_RE.match(value) if isinstance(value, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    month = MONTHS.get(lang, MONTHS["fr"])[int(m.group(2)) - 1]
    if m.group(3) is None:
        return f"{month} {m.group(1)}"
    day = int(m.group(3))
    day_text = "1er" if day == 1 and lang != "en" else str(day)
    return f"{day_text} {month} {m.group(1)}"


def _inside(start: Any, end: Any, base: int, length: int) -> tuple[int, int] | None:
    try:
        lo, hi = int(start) - base, int(end) - base
    except (TypeError, ValueError):
        return None
    return (lo, hi) if 0 <= lo < hi <= length else None


def date_notes(c: dict[str, Any], lang: str) -> dict[int, str]:
    """Quote offset where a date mention ends -> the date it resolves to, when that says something new
    (a null value, or a mention that already spells the date out, adds nothing)."""
    quote = c.get("quote") or ""
    base = int(c.get("start") or 0)
    notes: dict[int, str] = {}
    for mention in c.get("dates") or []:
        span = _inside(mention.get("start"), mention.get("end"), base, len(quote))
        label = date_label(mention.get("value"), lang)
        if span is None or label is None:
            continue
        if label.casefold() in " ".join(quote[span[0]:span[1]].split()).casefold():
            continue
        notes[span[1]] = label
    return notes


def quote_html(c: dict[str, Any], lang: str = "fr") -> str:
    """The quote on one line, escaped, with its highlight and its resolved dates."""
    quote = c.get("quote") or ""
    base = int(c.get("start") or 0)
    h = c.get("highlight") or {}
    hl = _inside(h.get("start"), h.get("end"), base, len(quote)) if h else None
    notes = date_notes(c, lang)
    cuts = sorted({0, len(quote), *notes, *(hl or ())})
    pieces = [quote[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    # Whitespace collapsed over the whole quote, as one line, keeping the pieces' boundaries.
    flat = " ".join("\x00".join(pieces).split()).split("\x00") if pieces else []
    out: list[str] = []
    for (a, b), text in zip(zip(cuts, cuts[1:], strict=False), flat, strict=False):
        out.append(f'<strong class="dq-hl">{esc(text)}</strong>' if hl and hl[0] <= a and b <= hl[1] else esc(text))
        if b in notes:
            out.append(f' <span class="dq-date-note">({esc(notes[b])})</span>')
    return "".join(out)
