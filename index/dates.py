"""Dates as news files state them -> ISO dates of the same precision, and ISO dates -> day ranges.

Pure: no I/O, nothing at import time beyond compiling the patterns.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re

from index.french import fold_accents

__all__ = ["date_range", "parse_date"]


def _fold(s: str) -> str:
    """Lowercase without accents, for month and day names."""
    return fold_accents(s.lower())


_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        ("janvier", "janv", "jan", "january"),
        ("fevrier", "fevr", "fev", "feb", "february"),
        ("mars", "mar", "march"),
        ("avril", "avr", "apr", "april"),
        ("mai", "may"),
        ("juin", "jun", "june"),
        ("juillet", "juil", "jul", "july"),
        ("aout", "aug", "august"),
        ("septembre", "sept", "sep", "september"),
        ("octobre", "oct", "october"),
        ("novembre", "nov", "november"),
        ("decembre", "dec", "december"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _num

_WEEKDAYS = (
    "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    "lun|mar|mer|jeu|ven|sam|dim|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
)
_MONTH_RE = "(?P<month>[a-z]+)\\.?"
# Whatever may follow a full date: a time of day, a time zone, nothing else.
_TAIL = r"(?:\s*(?:,|a|at|-|t)?\s*\d{1,2}\s*[:h]\s*\d{2}.*)?"
_WEEKDAY_PREFIX = rf"(?:(?:{_WEEKDAYS})\.?,?\s+)?"

_ISO_RE = re.compile(
    r"(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})(?:[-/.](?P<d>\d{1,2})(?:[t\s]\d{1,2}[:h]\d{2}.*)?)?)?",
    re.DOTALL,
)
_COMPACT_RE = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_DMY_RE = re.compile(rf"(?P<a>\d{{1,2}})[-/.](?P<b>\d{{1,2}})[-/.](?P<y>\d{{4}}){_TAIL}", re.DOTALL)
_MY_RE = re.compile(r"(?P<m>\d{1,2})[-/.](?P<y>\d{4})")
_D_MONTH_Y_RE = re.compile(
    rf"{_WEEKDAY_PREFIX}(?P<d>\d{{1,2}})(?:er|st|nd|rd|th)?\s+{_MONTH_RE}\s+(?P<y>\d{{4}}){_TAIL}",
    re.DOTALL,
)
_MONTH_D_Y_RE = re.compile(
    rf"{_WEEKDAY_PREFIX}{_MONTH_RE}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}}){_TAIL}",
    re.DOTALL,
)
_MONTH_Y_RE = re.compile(rf"{_MONTH_RE}\s+(?P<y>\d{{4}})")


def _iso(y: int, m: int | None = None, d: int | None = None) -> str | None:
    if not 1000 <= y <= 9999:
        return None
    if m is None:
        return f"{y:04d}"
    if not 1 <= m <= 12:
        return None
    if d is None:
        return f"{y:04d}-{m:02d}"
    try:
        _dt.date(y, m, d)
    except ValueError:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


def parse_date(value: str) -> str | None:
    """Normalise a date to ISO of the precision the value has ("2025", "2025-03", "2025-03-14").

    Accepts ISO dates and date-times (the time and zone are dropped, not converted), "YYYYMMDD",
    day-first numeric dates ("14/03/2025", "14.03.2025"; month-first only when unambiguous),
    "03/2025", and French or English month names ("14 mars 2025", "1er mars 2025",
    "vendredi 14 mars 2025 à 10h00", "mars 2025", "March 14, 2025",
    "Fri, 14 Mar 2025 10:00:00 +0000").
    Anything else, or an impossible date, gives None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    s = _fold(" ".join(value.split()))
    if not s:
        return None

    if m := _ISO_RE.fullmatch(s):
        y, mo, d = m.group("y", "m", "d")
        return _iso(int(y), int(mo) if mo else None, int(d) if d else None)
    if m := _COMPACT_RE.fullmatch(s):
        return _iso(int(m["y"]), int(m["m"]), int(m["d"]))
    if m := _DMY_RE.fullmatch(s):
        a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
        if b > 12 >= a:  # unambiguously month-first (US style)
            a, b = b, a
        return _iso(y, b, a)
    if m := _MY_RE.fullmatch(s):
        return _iso(int(m["y"]), int(m["m"]))
    for rx in (_D_MONTH_Y_RE, _MONTH_D_Y_RE):
        if (m := rx.fullmatch(s)) and m["month"] in _MONTHS:
            return _iso(int(m["y"]), _MONTHS[m["month"]], int(m["d"]))
    if (m := _MONTH_Y_RE.fullmatch(s)) and m["month"] in _MONTHS:
        return _iso(int(m["y"]), _MONTHS[m["month"]])
    return None


_ISO_PRECISE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def date_range(date: str | None) -> tuple[int, int] | None:
    """An ISO date of any precision -> inclusive (YYYYMMDD, YYYYMMDD) range; None if not ISO."""
    if not date:
        return None
    m = _ISO_PRECISE_RE.fullmatch(date.strip())
    if not m or _iso(*(int(g) for g in m.groups() if g)) is None:
        return None
    y = int(m[1])
    if m[2] is None:
        return (y * 10000 + 101, y * 10000 + 1231)
    mo = int(m[2])
    if m[3] is None:
        last = calendar.monthrange(y, mo)[1]
        return (y * 10000 + mo * 100 + 1, y * 10000 + mo * 100 + last)
    n = y * 10000 + mo * 100 + int(m[3])
    return (n, n)

