"""The chat's filters, pure: checked before asking, shown as chips, said in the answer.

A filter the user cannot see misleads: the chips above the question box show what is set, and an
answer (or an abstention) given under filters opens with the sentence that says so ("Parmi les
dépêches de l’AFP de mars 2025."). Dates are ISO of any precision (2025, 2025-03, 2025-03-14).
"""

from __future__ import annotations

from typing import Any

from index.dates import date_range
from ui.i18n import text
from ui.render import esc

UNKNOWN_AGENCY = "(unknown)"  # the sources-filter choice for dispatches whose agency was not recognised
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


def filter_problem(date_from: Any, date_to: Any, lang: str) -> str | None:
    """Why these dates cannot be asked with (in the interface language `lang`), or None."""
    spans = []
    for field, value in (("date_from", date_from), ("date_to", date_to)):
        value = (value or "").strip() if isinstance(value, str) else ""
        span = date_range(value) if value else None
        if value and span is None:
            return text(lang, "bad_date", value=value, field=text(lang, field))
        spans.append((value, span))
    (start, lo), (end, hi) = spans
    if lo and hi and lo[0] > hi[1]:
        return text(lang, "date_order", start=start, end=end)
    return None


def query_sources(chosen: list[str] | None) -> tuple[str, ...]:
    """The dropdown's choices -> QueryFilters.sources: the unknown agency is the empty source, as the
    keyword index and Chroma store a dispatch without a recognised agency."""
    return tuple(dict.fromkeys("" if s == UNKNOWN_AGENCY else s.strip() for s in (chosen or []) if s.strip()))


def source_choices(agencies: list[str], lang: str) -> list[tuple[str, str]]:
    """(label, value) pairs for the sources dropdown: each agency, then the unknown agency."""
    return [(a, a) for a in agencies] + [(text(lang, "unknown_agency"), UNKNOWN_AGENCY)]


def readable_date(value: str, lang: str) -> str:
    """2025 / 2025-03 / 2025-03-14 -> "2025" / "mars 2025" / "14 mars 2025" (as given when not ISO)."""
    parts = value.strip().split("-")
    if date_range(value) is None or len(parts) == 1:
        return value.strip()
    month = _MONTHS.get(lang, _MONTHS["en"])[int(parts[1]) - 1]
    if len(parts) == 2:
        return f"{month} {parts[0]}"
    day = int(parts[2])
    day_text = "1er" if lang == "fr" and day == 1 else str(day)
    return f"{day_text} {month} {parts[0]}"


def _agency_fr(name: str) -> str:
    if name == UNKNOWN_AGENCY:
        return "d’agence inconnue"
    return f"de l’{name}" if name[:1].upper() in "AEIOUY" else f"de {name}"


def _dates_phrase(date_from: str, date_to: str, lang: str) -> str:
    a, b = readable_date(date_from, lang) if date_from else "", readable_date(date_to, lang) if date_to else ""
    if lang == "fr":
        day = (date_from or date_to).count("-") == 2
        if a and a == b:
            return f" du {a}" if day else f" de {a}"
        if a and b:
            return f" entre {a} et {b}"
        if a:
            return f" depuis {a}"
        return f" jusqu’à {b}" if b else ""
    if a and a == b:
        return f" of {a}"
    if a and b:
        return f" between {a} and {b}"
    if a:
        return f" since {a}"
    return f" until {b}" if b else ""


def filters_sentence(date_from: str | None, date_to: str | None, sources: list[str] | None, lang: str) -> str:
    """What an answer under filters says first, in the answer's language; "" without filters."""
    date_from, date_to = (date_from or "").strip(), (date_to or "").strip()
    names = [s for s in dict.fromkeys(_names(sources)) if s.strip()]
    if not (date_from or date_to or names):
        return ""
    if lang == "fr":
        agencies = " ou ".join(_agency_fr(n) for n in names)
        return f"Parmi les dépêches{' ' + agencies if agencies else ''}{_dates_phrase(date_from, date_to, lang)}."
    shown = [("unknown agency" if n == UNKNOWN_AGENCY else n) for n in names]
    agencies = f" from {' or '.join(shown)}" if shown else ""
    return f"Among the dispatches{agencies}{_dates_phrase(date_from, date_to, lang)}."


def _names(sources: Any) -> list[str]:
    """The text items of a sources value (the page's event can be sent anything: ui/checks.py refuses it)."""
    return [s for s in sources if isinstance(s, str)] if isinstance(sources, (list, tuple)) else []


def chips_html(date_from: str | None, date_to: str | None, sources: list[str] | None, lang: str) -> str:
    """The active filters as chips above the question box ("" when none is set), interface language."""
    chips = []
    for key, value in (("chip_from", date_from), ("chip_to", date_to)):
        if isinstance(value, str) and value.strip():
            chips.append(text(lang, key, value=value.strip()))
    for name in dict.fromkeys(_names(sources)):
        chips.append(text(lang, "unknown_agency") if name == UNKNOWN_AGENCY else name)
    if not chips:
        return ""
    items = "".join(f'<span class="dq-chip">{esc(c)}</span>' for c in chips)
    return (f'<div class="dq-chips" role="status"><span class="dq-chips-head">{esc(text(lang, "active_filters"))}'
            f"</span>{items}</div>")
