"""News agencies named by a dispatch: the dateline that opens it ("PARIS (AFP) -") or the
signature line that closes it ("(AFP)", "© Reuters 2025").

Pure: no I/O. A mere mention of an agency in the text is never taken for its source.
"""

from __future__ import annotations

import re

from index.dates import parse_date

__all__ = ["canonical_agency", "dateline", "dateline_date", "explicit_source", "signature"]

_AGENCIES = (
    "AFP", "Reuters", "AP", "Associated Press", "ANSA", "DPA", "EFE", "Belga", "ATS",
    "Bloomberg", "Xinhua", "TASS", "RIA Novosti", "Ukrinform", "Interfax", "Kyodo", "APS", "MAP",
    "PA", "UPI",
)  # fmt: skip
_AGENCY_ALIASES = {
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "ria-novosti": "RIA Novosti",
}


def _agency_key(s: str) -> str:
    return " ".join(s.lower().replace("-", " ").split())


_AGENCY_BY_KEY = {_agency_key(a): a for a in _AGENCIES}
_AGENCY_BY_KEY.update({_agency_key(k): v for k, v in _AGENCY_ALIASES.items()})
_AGENCY_ALT = "|".join(
    r"[\s-]+".join(re.escape(w) for w in key.split())
    for key in sorted(_AGENCY_BY_KEY, key=len, reverse=True)
)
_AGENCY_RE = rf"(?:{_AGENCY_ALT})"


def canonical_agency(name: str | None) -> str | None:
    """The canonical spelling of a known news agency ("afp" -> "AFP"), else None."""
    if not name:
        return None
    return _AGENCY_BY_KEY.get(_agency_key(name.strip(" .,;:()[]")))


# "PARIS (AFP) - ", "Kiev, 14 mars (Reuters) —", "(AFP) -": the parenthesised agency within the
# first ~60 characters of the body, followed by a dash.
_DATELINE_RE = re.compile(
    rf"[^\S\n]*(?P<place>[^\n()]{{0,60}}?)\(\s*(?P<agency>{_AGENCY_RE})"
    rf"(?:\s*/\s*{_AGENCY_RE})*\s*\)[^\S\n]*[-–—]+[^\S\n]*",
    re.IGNORECASE,
)
_SIGNATURE_RES = (
    # "(AFP)", "AFP", "(avec AFP)", "Avec Reuters.", "(AFP/Reuters)"
    re.compile(
        rf"\(?\s*(?:avec\s+)?(?P<agency>{_AGENCY_RE})(?:\s*/\s*{_AGENCY_RE})*\s*\)?\.?",
        re.IGNORECASE,
    ),
    # "-- AFP", "— Reuters"
    re.compile(rf"[-–—]{{1,3}}\s*(?P<agency>{_AGENCY_RE})\.?", re.IGNORECASE),
    # "© AFP 2025", "(c) Reuters", "Copyright AFP"
    re.compile(
        rf"(?:©|\(c\)|copyright)\s*(?:\d{{4}}\s+)?(?P<agency>{_AGENCY_RE})(?:\s+\d{{4}})?\.?",
        re.IGNORECASE,
    ),
    # "Source : Reuters", "Sources: AFP"
    re.compile(rf"sources?\s*:\s*(?P<agency>{_AGENCY_RE})\.?", re.IGNORECASE),
)
_SIGNATURE_MAX = 40


def dateline(body: str) -> tuple[str | None, int]:
    """(agency, length of the dateline) if ``body`` opens with a dateline, else (None, 0)."""
    m = _DATELINE_RE.match(body)
    if not m:
        return None, 0
    return canonical_agency(m["agency"]), m.end()


def dateline_date(body: str) -> str | None:
    """The date a dateline states ("Lyon, 12 mars 2025 (AFP) -"), if any."""
    m = _DATELINE_RE.match(body)
    if not m:
        return None
    place = m["place"].strip().rstrip(",").strip()
    for piece in (place.rsplit(",", 1)[-1].strip(), place):
        if piece and (found := parse_date(piece)):
            return found
    return None


def signature(body: str) -> str | None:
    """The agency named by a short final signature line ("(AFP)", "© AFP 2025", ...), if any."""
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    if len(lines) < 2:  # a one-line text has no signature line
        return None
    last = lines[-1]
    if len(last) > _SIGNATURE_MAX:
        return None
    for rx in _SIGNATURE_RES:
        if m := rx.fullmatch(last):
            return canonical_agency(m["agency"])
    return None


def explicit_source(body: str) -> str | None:
    agency, _ = dateline(body)
    return agency or signature(body)

