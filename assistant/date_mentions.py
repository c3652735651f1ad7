"""Dates as a dispatch writes them ("vendredi", "hier", "le 14 mars", "en août dernier") -> ISO dates,
resolved against the dispatch's own date.

Wire copy dates its events relative to the dateline: a weekday alone is the most recent such day on
or before the dispatch day ("Poutine a appelé vendredi"), "lundi prochain" looks forward, "le 14
mars" is the 14 March nearest the dispatch. A day-relative mention needs a full-day dispatch date:
with a month-only date ("2025-03") it stays unresolved (value None), never a guess. Month-relative
mentions ("le mois dernier", "en août dernier") only need the month.

Values are "YYYY-MM-DD" or "YYYY-MM" (or None); a mention that only names a year ("l'an dernier",
"en 2014") is found but not given a value, as the citation contract has no year-only form.
Pure: no I/O; every offset is a document offset.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DateMention", "dated_quote", "find_date_mentions", "format_value", "quote_dates", "with_dates"]

_FR_MONTHS = ("janvier", "f[ée]vrier", "mars", "avril", "mai", "juin", "juillet", "ao[uû]t", "septembre",
              "octobre", "novembre", "d[ée]cembre")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FR_NAMES = ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
             "novembre", "decembre")
_DISPLAY = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
            "novembre", "décembre")


def _fold(word: str) -> str:
    return word.lower().translate(str.maketrans("éèêûùôîàç", "eeeuuoiac"))


def _month_number(word: str) -> int:
    w = _fold(word)
    if w in _FR_NAMES:
        return _FR_NAMES.index(w) + 1
    return [m.lower() for m in _EN_MONTHS].index(w) + 1


def _weekday_number(word: str) -> int:
    w = word.lower()
    return _FR_DAYS.index(w) if w in _FR_DAYS else [d.lower() for d in _EN_DAYS].index(w)


# French names in any case; English ones capitalised ("may" and "march" are English words too).
_MONTH = "(?:(?i:" + "|".join(_FR_MONTHS) + ")|" + "|".join(_EN_MONTHS) + ")"
_DAY = "(?:(?i:" + "|".join(_FR_DAYS) + ")|" + "|".join(_EN_DAYS) + ")"
_B = r"(?<![\w-])"  # a word starts here
_E = r"(?![\w-])"
_NEXT = r"(?i:prochaine?|next)"
_LAST = r"(?i:derni[eè]re?|pass[ée]e?|last)"

_PATTERNS: list[tuple[str, str]] = [
    ("numeric", rf"{_B}(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})/(?P<y>\d{{4}}){_E}"),
    ("day_month", rf"{_B}(?:(?P<wd>{_DAY})\s+)?(?P<d>\d{{1,2}})(?:er|st|nd|rd|th)?\s+(?P<mon>{_MONTH})"
                  rf"(?:\s+(?P<y>\d{{4}}))?{_E}"),
    ("month_day", rf"{_B}(?P<mon>{'|'.join(_EN_MONTHS)})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?{_E}"),
    ("month_year", rf"{_B}(?P<mon>{_MONTH})\s+(?P<y>\d{{4}}){_E}"),
    ("month", rf"(?:{_B}(?i:en|depuis|courant|fin|d[ée]but|d[èe]s|mi|avant|apr[eè]s|in|since|until|before|after|"
              rf"jusqu'en|jusqu’en)[\s-]+|{_B}(?i:mois)\s+(?i:de\s+|d'|d’))"
              rf"(?P<t>(?P<mon>{_MONTH})(?!\s+\d{{4}})(?:\s+(?P<rel>{_LAST}|{_NEXT}))?){_E}"),
    ("weekday", rf"{_B}(?P<wd>{_DAY})(?:\s+(?P<rel>{_LAST}|{_NEXT}))?{_E}"),
    ("en_weekday", rf"{_B}(?P<rel>(?i:last|next))\s+(?P<wd>{'|'.join(_EN_DAYS)}){_E}"),
    # "d'aujourd'hui" is "of our time", not a day
    ("relday", rf"{_B}(?P<rd>(?i:avant-hier|apr[eè]s-demain|hier|(?<!d')(?<!d’)aujourd['’]hui|demain|yesterday|today|"
               rf"tomorrow)){_E}"),
    ("week", rf"{_B}(?P<wk>(?i:la\s+semaine\s+(?:derni[eè]re|pass[ée]e|prochaine)|cette\s+semaine|"
             rf"(?:last|next|this)\s+week)){_E}"),
    ("rel_month", rf"{_B}(?P<rm>(?i:le\s+mois\s+(?:dernier|pass[ée]|prochain)|ce\s+mois(?:-ci)?|"
                  rf"(?:last|next|this)\s+month)){_E}"),
    ("rel_year", rf"{_B}(?P<ry>(?i:l'(?:an|ann[ée]e)\s+(?:derni[eè]re?|pass[ée]e?|prochaine?)|"
                 rf"l’(?:an|ann[ée]e)\s+(?:derni[eè]re?|pass[ée]e?|prochaine?)|cette\s+ann[ée]e|"
                 rf"(?:last|next|this)\s+year)){_E}"),
    ("year", rf"{_B}(?i:en|in|depuis|since)\s+(?P<t>(?:19|20)\d\d){_E}"),
]
# One pattern per form, tried in this order: where two overlap, the longer (then the earlier) wins.
_RES = [(name, re.compile(body)) for name, body in _PATTERNS]
# Words that put a bare weekday ahead of the dispatch day: "d'ici vendredi", "dès lundi".
_FORWARD_RE = re.compile(r"(?i:d'ici|d’ici|jusqu'à|jusqu’à|jusqu'au|dès|à partir de|avant|by|until|"
                         r"this\s+coming)\s+$")


@dataclass(frozen=True)
class DateMention:
    text: str
    start: int
    end: int
    value: str | None  # "YYYY-MM-DD" | "YYYY-MM" | None


@dataclass(frozen=True)
class _Anchor:
    year: int
    month: int | None
    day: _dt.date | None


def _anchor(date: str | None) -> _Anchor | None:
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", (date or "").strip())
    if not m:
        return None
    y, mo, d = int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    try:
        return _Anchor(y, mo, _dt.date(y, mo, d) if mo and d else None)
    except ValueError:
        return None


def _day(d: _dt.date) -> str:
    return d.isoformat()


def _month(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def _shift_month(y: int, m: int, by: int) -> tuple[int, int]:
    n = y * 12 + (m - 1) + by
    return n // 12, n % 12 + 1


def _nearest_day(a: _Anchor, month: int, day: int, weekday: int | None) -> str | None:
    """The (day, month) nearest the dispatch date; a stated weekday picks among the candidate years."""
    ref = a.day or _dt.date(a.year, a.month or 7, 15 if a.month else 1)
    options = []
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            options.append(_dt.date(y, month, day))
        except ValueError:
            continue
    if weekday is not None and any(o.weekday() == weekday for o in options):
        options = [o for o in options if o.weekday() == weekday]
    if not options:
        return None
    return _day(min(options, key=lambda o: (abs((o - ref).days), o > ref)))


def _weekday_value(a: _Anchor | None, weekday: int, rel: str | None, forward: bool) -> str | None:
    if a is None or a.day is None:
        return None  # a weekday needs the dispatch's day: never guessed from a month
    back = (a.day.weekday() - weekday) % 7
    if rel and _fold(rel) in ("prochain", "prochaine", "next"):
        return _day(a.day + _dt.timedelta(days=(weekday - a.day.weekday()) % 7 or 7))
    if rel:  # "jeudi dernier": strictly before the dispatch day
        return _day(a.day - _dt.timedelta(days=back or 7))
    if forward:
        return _day(a.day + _dt.timedelta(days=(weekday - a.day.weekday()) % 7))
    return _day(a.day - _dt.timedelta(days=back))


def _month_value(a: _Anchor | None, month: int, rel: str | None) -> str | None:
    """"en août": the August of the dispatch's year or the nearest one; "dernier"/"prochain": strictly
    before/after the dispatch's month."""
    if a is None or a.month is None:
        return None
    here = a.year * 12 + a.month - 1
    candidates = [y * 12 + month - 1 for y in (a.year - 1, a.year, a.year + 1)]
    if rel and _fold(rel).startswith(("dern", "pass", "last")):
        n = max(c for c in candidates if c < here)
    elif rel:
        n = min(c for c in candidates if c > here)
    else:
        n = min(candidates, key=lambda c: (abs(c - here), c > here))
    return _month(n // 12, n % 12 + 1)


def _relday_value(a: _Anchor | None, word: str) -> str | None:
    if a is None or a.day is None:
        return None
    w = _fold(word).replace("’", "'")
    offset = {"avant-hier": -2, "hier": -1, "yesterday": -1, "aujourd'hui": 0, "today": 0, "demain": 1,
              "tomorrow": 1, "apres-demain": 2}[w]
    return _day(a.day + _dt.timedelta(days=offset))


def _week_value(a: _Anchor | None, words: str) -> str | None:
    """A week as the month it lies in; None when it straddles two months or the dispatch day is unknown."""
    if a is None or a.day is None:
        return None
    w = _fold(words)
    shift = -7 if ("dern" in w or "pass" in w or "last" in w) else 7 if ("proch" in w or "next" in w) else 0
    monday = a.day - _dt.timedelta(days=a.day.weekday()) + _dt.timedelta(days=shift)
    sunday = monday + _dt.timedelta(days=6)
    return _month(monday.year, monday.month) if monday.month == sunday.month else None


def _rel_month_value(a: _Anchor | None, words: str) -> str | None:
    if a is None or a.month is None:
        return None
    w = _fold(words)
    shift = -1 if ("dern" in w or "pass" in w or "last" in w) else 1 if ("proch" in w or "next" in w) else 0
    return _month(*_shift_month(a.year, a.month, shift))


def _absolute(y: int, m: int, d: int | None) -> str | None:
    try:
        return _day(_dt.date(y, m, d)) if d else _month(y, m)
    except ValueError:
        return None


def _value(kind: str, m: re.Match[str], a: _Anchor | None, text: str) -> str | None:
    g = m.groupdict()
    if kind == "numeric":
        return _absolute(int(g["y"]), int(g["m"]), int(g["d"]))
    if kind in ("day_month", "month_day"):
        month, day = _month_number(g["mon"]), int(g["d"])
        if g["y"]:
            return _absolute(int(g["y"]), month, day)
        if a is None:
            return None
        return _nearest_day(a, month, day, _weekday_number(g["wd"]) if g.get("wd") else None)
    if kind == "month_year":
        return _absolute(int(g["y"]), _month_number(g["mon"]), None)
    if kind == "month":
        return _month_value(a, _month_number(g["mon"]), g["rel"])
    if kind in ("weekday", "en_weekday"):
        forward = bool(_FORWARD_RE.search(text[max(0, m.start() - 20):m.start()]))
        return _weekday_value(a, _weekday_number(g["wd"]), g["rel"], forward)
    if kind == "relday":
        return _relday_value(a, g["rd"])
    if kind == "week":
        return _week_value(a, g["wk"])
    if kind == "rel_month":
        return _rel_month_value(a, g["rm"])
    return None  # a year alone: no year-only value in the contract


def find_date_mentions(text: str, dispatch_date: str | None, start: int = 0,
                       end: int | None = None) -> list[DateMention]:
    """Date mentions in text[start:end], resolved against the dispatch's date (ISO, any precision)."""
    a = _anchor(dispatch_date)
    end = len(text) if end is None else end
    found = [(m.start(), -(m.end() - m.start()), rank, kind, m)
             for rank, (kind, rx) in enumerate(_RES) for m in rx.finditer(text, start, end)]
    out: list[DateMention] = []
    taken_to = start
    for lo, _, _, kind, m in sorted(found, key=lambda f: f[:3]):
        if lo < taken_to:
            continue  # inside a longer mention already taken
        taken_to = m.end()
        s, e = m.span("t") if "t" in m.groupdict() else m.span()
        out.append(DateMention(text=text[s:e], start=s, end=e, value=_value(kind, m, a, text)))
    return out


def quote_dates(text: str, start: int, end: int, dispatch_date: str | None) -> list[dict[str, Any]]:
    """A citation's `dates`: the mentions inside text[start:end], as the JSON carries them."""
    return [asdict(d) for d in find_date_mentions(text, dispatch_date, start, end)]


def format_value(value: str | None, language: str = "fr") -> str | None:
    """"2025-03-14" -> "14 mars 2025" ("14 March 2025" in English); "2025-03" -> "mars 2025"."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value or "")
    if not m:
        return None
    month = int(m[2])
    name = _EN_MONTHS[month - 1] if language == "en" else _DISPLAY[month - 1]
    day = str(int(m[3])) + ("er" if m[3] == "01" and language != "en" else "") if m[3] else ""
    return " ".join(x for x in (day, name, m[1]) if x)


def with_dates(quote: str, quote_start: int, dates: list[dict[str, Any]], language: str = "fr") -> str:
    """The quote with each resolved date beside its words: "vendredi (14 mars 2025)"."""
    out, pos = [], 0
    for d in sorted(dates or [], key=lambda d: d["start"]):
        shown = format_value(d.get("value"), language)
        lo, hi = d["start"] - quote_start, d["end"] - quote_start
        if shown is None or lo < pos or hi > len(quote):
            continue
        out += [quote[pos:hi], f" ({shown})"]
        pos = hi
    return "".join(out) + quote[pos:]


def dated_quote(quote: str, start: int, highlight: dict[str, int] | None, dates: list[dict[str, Any]] | None,
                language: str = "fr") -> tuple[str, dict[str, int] | None]:
    """The quote with each resolved date beside its words ("vendredi (14 mars 2025)"), and its
    highlight moved to match (offsets in the returned string, counted from `start`)."""
    lo, hi = ((highlight["start"] - start, highlight["end"] - start) if highlight else (-1, -1))
    if not 0 <= lo < hi <= len(quote):
        return with_dates(quote, start, dates or [], language), None
    parts = [with_dates(quote[a:b], start + a, dates or [], language)
             for a, b in ((0, lo), (lo, hi), (hi, len(quote)))]
    new_lo = start + len(parts[0])
    return "".join(parts), {"start": new_lo, "end": new_lo + len(parts[1])}
