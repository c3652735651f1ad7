"""Files -> ``Dispatch`` records: one per news article, whatever the file format.

Supported inputs: plain text (``.txt``), Markdown (``.md``), HTML (``.html``/``.htm``),
JSON (``.json``: one object or a list of objects) and JSON Lines (``.jsonl``).

Nothing here writes anything or has side effects at import time. Problems with a file (too big,
binary, not UTF-8, empty, malformed JSON, ...) never raise out of :func:`load_file`: they come back
as :class:`DocumentError` values in :class:`LoadResult.errors`, with a reason a person can act on.

``Dispatch.text`` is the string that citation offsets index. For ``.txt``/``.md`` it is the file's
content exactly as stored (only a UTF-8 byte-order mark is dropped); for JSON it is the record's
``text`` field exactly; for HTML it is the extracted article text.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import hashlib
import json
import os
import re
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.sniff import SNIFF_BYTES, not_text_reason

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Dispatch",
    "DocumentError",
    "LoadResult",
    "date_range",
    "dispatch_hash",
    "iter_files",
    "load_file",
    "parse_date",
]

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")

_UTF8_BOM = b"\xef\xbb\xbf"
_TITLE_MAX = 160
_TITLE_CUT = 150


# --------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    """One news article."""

    doc_id: str
    title: str | None
    date: str | None  # ISO, as precise as the source: "2025", "2025-03" or "2025-03-14"
    source: str | None  # agency/source, only when explicitly stated
    language: str  # "fr" | "en" | "und"
    text: str  # the text that citation offsets index
    source_path: str  # absolute path of the file
    body_start: int = 0  # offset in text where the body starts (after header/date marker)
    content_hash: str = ""  # dispatch_hash(self), filled in by the loaders


class DocumentError(Exception):
    """A problem with one file or one record of a file; ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # keep it picklable despite the two-argument constructor
        return (type(self), (self.path, self.reason))


@dataclass
class LoadResult:
    dispatches: list[Dispatch] = field(default_factory=list)
    errors: list[DocumentError] = field(default_factory=list)


def dispatch_hash(d: Dispatch) -> str:
    """sha256 hex of everything that identifies a dispatch's content (not its path or hash)."""
    payload = json.dumps(
        [d.doc_id, d.title, d.date, d.source, d.language, d.text], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _with_hash(d: Dispatch) -> Dispatch:
    return replace(d, content_hash=dispatch_hash(d))


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def iter_files(root: Path) -> Iterator[Path]:
    """Files to load under ``root``: :func:`index.walk.scan`'s files, its problems left out.

    A file root yields itself (whatever its suffix: :func:`load_file` reports unsupported types).
    A folder yields its supported files recursively, sorted by relative path, skipping hidden
    files and folders (name starting with "."), links leading out of the folder, broken links,
    loops and special files (the indexer reports those: use ``scan`` to get them).
    A missing root raises ``FileNotFoundError``.
    """
    from index.walk import scan  # walk imports this module

    root = Path(root)
    if not root.is_file() and not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    yield from scan(root).files


def _relative_id(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form; the file name when root is the file itself."""
    ap, ar = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if ap == ar:
        return path.name
    for p, r in ((ap, ar), (path.resolve(), root.resolve())):
        try:
            rel = p.relative_to(r)
        except ValueError:
            continue
        if rel.parts:
            return rel.as_posix()
    return path.name


def _format_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _size_reason(size: int, limit: int) -> str:
    a, b = _format_size(size), _format_size(limit)
    if a == b:  # rounding made them look equal: be exact
        a, b = f"{size} bytes", f"{limit} bytes"
    return f"file is {a}, over the limit of {b} (max_file_bytes)"


def _decode(data: bytes) -> str:
    """UTF-8 bytes -> str (BOM dropped, nothing else touched); raises ValueError with a reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("not valid UTF-8 (UTF-16 byte-order mark; save the file as UTF-8)")
    if reason := not_text_reason(data[:SNIFF_BYTES]):
        raise ValueError(reason)
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        raise ValueError(
            f"not valid UTF-8 (invalid byte 0x{data[offset]:02x} at offset {offset})"
        ) from None


def load_file(path: Path, root: Path, max_bytes: int) -> LoadResult:
    """Load one file into dispatches; every problem is returned in ``errors``, never raised.

    Error paths are the file's absolute path (``"<path>:<line>"`` for a JSONL line).
    """
    path = Path(path)
    root = Path(root)
    shown = os.path.abspath(path)
    result = LoadResult()

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
        result.errors.append(
            DocumentError(
                shown,
                f"unsupported file type {kind} (supported: {', '.join(SUPPORTED_SUFFIXES)})",
            )
        )
        return result

    try:
        if not path.is_file():
            raise DocumentError(shown, "not a regular file" if path.exists() else "file not found")
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise DocumentError(shown, _size_reason(size, max_bytes))
        with path.open("rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:  # grew since stat()
            raise DocumentError(shown, _size_reason(len(data), max_bytes))
        try:
            text = _decode(data)
        except ValueError as e:
            raise DocumentError(shown, str(e)) from None
        if not text.strip():
            raise DocumentError(shown, "empty file")

        source_path = str(path.resolve())
        rel = _relative_id(path, root)
        if suffix in (".txt", ".md"):
            result.dispatches.append(
                _load_plain(text, rel, source_path, shown, markdown=suffix == ".md")
            )
        elif suffix in (".html", ".htm"):
            result.dispatches.append(_load_html(text, rel, source_path, shown))
        elif suffix == ".json":
            _load_json(text, rel, source_path, shown, result)
        else:
            _load_jsonl(text, rel, source_path, shown, result)
    except DocumentError as e:
        result.errors.append(e)
    except OSError as e:
        result.errors.append(DocumentError(shown, f"cannot read file ({e.strerror or e})"))
    except ImportError:  # a broken installation, not a bad file
        raise
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop a whole indexing run
        result.errors.append(DocumentError(shown, f"could not load: {type(e).__name__}: {e}"))
    return result


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _fold(s: str) -> str:
    """Lowercase without accents, for month/day names."""
    s = unicodedata.normalize("NFD", s.lower())
    return "".join(c for c in s if not unicodedata.combining(c))


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


# --------------------------------------------------------------------------------------------
# Agencies: datelines and signatures
# --------------------------------------------------------------------------------------------

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


def _dateline(body: str) -> tuple[str | None, int]:
    """(agency, length of the dateline) if ``body`` opens with a dateline, else (None, 0)."""
    m = _DATELINE_RE.match(body)
    if not m:
        return None, 0
    return canonical_agency(m["agency"]), m.end()


def _dateline_date(body: str) -> str | None:
    """The date a dateline states ("Lyon, 12 mars 2025 (AFP) -"), if any."""
    m = _DATELINE_RE.match(body)
    if not m:
        return None
    place = m["place"].strip().rstrip(",").strip()
    for piece in (place.rsplit(",", 1)[-1].strip(), place):
        if piece and (found := parse_date(piece)):
            return found
    return None


def _signature(body: str) -> str | None:
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


def _explicit_source(body: str) -> str | None:
    agency, _ = _dateline(body)
    return agency or _signature(body)


# --------------------------------------------------------------------------------------------
# Titles and languages
# --------------------------------------------------------------------------------------------

# Abbreviations whose period does not end a sentence ("M. Trump", "Mme X"); case matters.
_ABBREVIATIONS = frozenset(
    ("M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Dr", "Pr", "Me", "St", "Ste", "Mgr", "Gal",
     "Gén", "Col", "Lt", "Cpt", "Sgt", "No", "Nos", "Vol", "Art", "p", "pp", "fig", "cf", "env",
     "av", "apr", "Jr", "Sr", "Mr", "Mrs", "Ms", "Prof")
)  # fmt: skip
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|\n")


def _first_sentence(body: str) -> str | None:
    """The body's first sentence, cut at ". ", "! ", "? " or a newline, shortened if very long."""
    s = body.lstrip()
    end = len(s)
    for m in _SENTENCE_END_RE.finditer(s):
        if m.group() == "\n":
            end = m.start()
            break
        if m.group().startswith(".") and m.group().rstrip("\"'»”’)]") == ".":
            word = re.search(r"(\w+)$", s[: m.start()])
            w = word[1] if word else ""
            if w in _ABBREVIATIONS or (len(w) == 1 and w.isupper()):
                continue  # "M. Trump", "J. Biden", "J.-C. Juncker"
        end = m.end()
        break
    title = s[:end].strip()
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    return _shorten(title) or None


def _shorten(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= _TITLE_MAX:
        return title
    cut = title[: _TITLE_CUT + 1]
    space = cut.rfind(" ")
    if space >= _TITLE_CUT * 2 // 3:
        cut = cut[:space]
    else:
        cut = cut[:_TITLE_CUT]
    return cut.rstrip(" ,;:-–—(«\"'") + "…"


def _norm_lang(value: Any) -> str | None:
    """A declared language ("fr-FR", "French", "en") -> "fr" | "en" | "und"; None if absent."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = _fold(value.strip())
    head = re.split(r"[-_\s]", v, maxsplit=1)[0]
    if head in ("fr", "fra", "fre", "french", "francais"):
        return "fr"
    if head in ("en", "eng", "english", "anglais"):
        return "en"
    return "und"


def _guess_language(text: str) -> str:
    from index.french import guess_language  # lazy: keeps this module's import cheap

    return guess_language(text)


# --------------------------------------------------------------------------------------------
# .txt / .md
# --------------------------------------------------------------------------------------------

_HEADER_KEYS = {
    "title": "title",
    "titre": "title",
    "date": "date",
    "source": "source",
    "agency": "source",
    "agence": "source",
    "author": "author",
    "auteur": "author",
    "lang": "language",
    "language": "language",
    "langue": "language",
}
_HEADER_RE = re.compile(
    rf"[^\S\n]*(?P<key>{'|'.join(_HEADER_KEYS)})[^\S\n]*:[^\S\n]*(?P<value>[^\n]*?)[^\S\n]*(?:\n|$)",
    re.IGNORECASE,
)
_DATE_MARKER_RE = re.compile(
    r"[^\S\n]*date[^\S\n]*:?[^\S\n]*(?P<date>\d{4}-\d{2}(?:-\d{2})?)(?![\w-])\s*", re.IGNORECASE
)
_FRONT_MATTER_RE = re.compile(
    r"---[^\S\n]*\n(?P<body>.*?\n)?(?:---|\.\.\.)[^\S\n]*(?:\n|$)", re.DOTALL
)
_MD_HEADING_RE = re.compile(r"#[^\S\n]+(?P<title>[^\n]*?)(?:[^\S\n]+#+)?[^\S\n]*(?:\n|$)")
_LEADING_WS_RE = re.compile(r"\s*")


@dataclass
class _Header:
    title: str | None = None
    date: str | None = None
    source: str | None = None
    author: str | None = None
    language: str | None = None

    def set(self, key: str, raw: str) -> bool:
        """Apply one ``key: value``; False if the value is unusable (then it is not a header)."""
        value = raw.strip().strip("\"'").strip()
        if not value:
            return False
        field_name = _HEADER_KEYS.get(key.lower())
        if field_name == "date":
            parsed = parse_date(value)
            if parsed is None:
                return False
            self.date = parsed
        elif field_name == "language":
            self.language = _norm_lang(value)
        elif field_name is not None:
            setattr(self, field_name, value)
        return True


def _skip_ws(text: str, pos: int) -> int:
    return _LEADING_WS_RE.match(text, pos).end()


def _header_lines(text: str, pos: int, header: _Header) -> int:
    """Apply the ``key: value`` lines starting at ``pos``; the position after the last one."""
    while m := _HEADER_RE.match(text, pos):
        if not header.set(m["key"], m["value"]):
            break
        pos = m.end()
    return pos


def _load_plain(
    text: str, doc_id: str, source_path: str, shown: str, *, markdown: bool
) -> Dispatch:
    header = _Header()
    pos = 0

    # 1. YAML-ish front matter (Markdown): "---\nkey: value\n---"
    if markdown and (m := _FRONT_MATTER_RE.match(text)):
        for line in (m["body"] or "").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in _HEADER_KEYS:
                header.set(key.strip(), value)
        pos = m.end()

    # 2. Simple "key: value" header lines at the very top, before and/or after
    # 3. a "date 2025-03" marker, possibly followed by the first sentence on the same line.
    pos = _header_lines(text, _skip_ws(text, pos), header)
    if (m := _DATE_MARKER_RE.match(text, pos)) and (parsed := parse_date(m["date"])):
        header.date = header.date or parsed
        pos = m.end()
        if "\n" in m.group()[m.end("date") - m.start():]:  # the marker ends its line: headers may follow
            pos = _header_lines(text, pos, header)
    body_start = _skip_ws(text, pos)

    # 4. Markdown "# Heading" title.
    heading = _MD_HEADING_RE.match(text, body_start) if markdown else None
    if header.title is None and heading and heading["title"].strip():
        header.title = heading["title"].strip()
        body_start = _skip_ws(text, heading.end())

    body = text[body_start:]
    if not body.strip():
        raise DocumentError(shown, "no text after the header lines")

    agency, dateline_len = _dateline(body)
    source = header.source or canonical_agency(header.author) or agency or _signature(body)
    title = _shorten(header.title) if header.title else _first_sentence(body[dateline_len:])
    language = header.language or _guess_language(body)
    return _with_hash(
        Dispatch(
            doc_id=doc_id,
            title=title,
            date=header.date or (_dateline_date(body) if dateline_len else None),
            source=source,
            language=language,
            text=text,
            source_path=source_path,
            body_start=body_start,
        )
    )


# --------------------------------------------------------------------------------------------
# .html / .htm
# --------------------------------------------------------------------------------------------

_DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
    "button", "template", "object", "embed", "canvas", "select", "dialog",
)  # fmt: skip
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
_KEEP_TAGS = frozenset({"html", "body", "main", "article"})
_BOILERPLATE_RE = re.compile(
    r"(?<![a-z])(?:nav|menu|cookie|footer|sidebar|share|sharing|related|comment|newsletter"
    r"|advert|breadcrumb)"
)
_DATE_META = (
    "article:published_time",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "datepublished",
    "og:published_time",
    "pubdate",
    "publishdate",
)
_SOURCE_META = ("source", "dc.source", "agency")  # any value: explicitly a source
_AGENCY_ONLY_META = ("og:site_name", "author", "dc.publisher")  # only a known agency


def _looks_like_boilerplate(tag: Any) -> bool:
    attrs = getattr(tag, "attrs", None)
    if not attrs:
        return False
    classes = attrs.get("class") or []
    if isinstance(classes, str):
        classes = classes.split()
    names = [*classes, attrs.get("id") or "", attrs.get("role") or ""]
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        # "mainNav" -> "main-nav": a name part starting with one of the words
        name = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()
        if _BOILERPLATE_RE.search(name) or name in ("navigation", "banner", "contentinfo"):
            return True
    return False


def _decomposed(tag: Any) -> bool:
    """``tag.decomposed`` without its cost: bs4 reads ``_decomposed`` with getattr, which on a
    tag never decomposed falls through to ``Tag.__getattr__`` = a search of every descendant
    (quadratic over a page: 100,000 nested <div> took tens of minutes)."""
    return bool(vars(tag).get("_decomposed", False))


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _block_texts(container: Any) -> list[str]:
    """Text of each block element (p, h1-h6, li, blockquote, pre), in document order.

    A string belongs to its nearest enclosing block, so nested blocks (a <p> inside a
    <blockquote>, a list inside a list item) are not repeated.
    """
    from bs4 import NavigableString

    blocks = container.find_all(list(_BLOCK_TAGS))
    if container.name in _BLOCK_TAGS:
        blocks.insert(0, container)
    parts: dict[int, list[str]] = {id(b): [] for b in blocks}
    block_of: dict[int, Any] = {}  # id(element) -> its nearest enclosing block (None: none)
    for s in container.find_all(string=True):
        if type(s) is not NavigableString:  # comments, doctype, CDATA, script strings...
            continue
        node = _nearest_block(s.parent, container, block_of)
        if node is not None and id(node) in parts:
            parts[id(node)].append(str(s))
    out = []
    for b in blocks:
        t = _collapse("".join(parts[id(b)]))
        if t:
            out.append(t)
    return out


def _subtree_stats(soup: Any) -> tuple[dict[int, int], set[int]]:
    """Per element id: the characters of text under it, and whether an <article>/<main> is under it.

    One pass from the last element to the first (children before parents), where asking each tag
    for its text and its <article> costs a walk of its subtree: quadratic on nested markup.
    """
    from bs4 import NavigableString, Tag

    chars: dict[int, int] = {}
    holds: set[int] = set()
    for el in reversed(list(soup.descendants)):
        parent = el.parent
        if parent is None:
            continue
        if isinstance(el, Tag):
            n = chars.get(id(el), 0)
            if el.name in ("article", "main") or id(el) in holds:
                holds.add(id(parent))
        else:
            n = len(el) if type(el) is NavigableString else 0
        if n:
            chars[id(parent)] = chars.get(id(parent), 0) + n
    return chars, holds


def _nearest_block(start: Any, container: Any, block_of: dict[int, Any]) -> Any:
    """The nearest element from ``start`` up that is a block, stopping at ``container``.

    Memoised over the path walked, so strings deep in nested markup cost one walk in all
    (without it, n strings under n nested <div> cost n^2 steps).
    """
    path: list[int] = []
    node = start
    found = None
    while node is not None:
        if id(node) in block_of:
            found = block_of[id(node)]
            break
        if node.name in _BLOCK_TAGS:
            found = node
            break
        if node is container:
            break
        path.append(id(node))
        node = node.parent
    for key in path:
        block_of[key] = found
    return found


def _load_html(html: str, doc_id: str, source_path: str, shown: str) -> Dispatch:
    from bs4 import BeautifulSoup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(html, "html.parser")

    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        value = tag.get("content")
        if isinstance(key, str) and isinstance(value, str) and value.strip():
            meta.setdefault(key.strip().lower(), value.strip())

    # Each <article>/<main>'s <h1>, taken before the <header> that often holds it is dropped.
    h1_of: dict[int, str] = {}
    for box in soup.find_all(["article", "main"]):
        if (h1 := box.find("h1")) and (t := _collapse(h1.get_text(" "))):
            h1_of[id(box)] = t

    # Date: meta tags, then the first <time datetime>.
    date = None
    for key in _DATE_META:
        if key in meta and (date := parse_date(meta[key])):
            break
    if date is None:
        for t in soup.find_all("time"):
            if (dt := t.get("datetime")) and (date := parse_date(dt)):
                break

    declared_lang = None
    if soup.html is not None:
        declared_lang = _norm_lang(soup.html.get("lang") or soup.html.get("xml:lang"))

    # Clean: drop non-content elements, then the boilerplate-looking ones (but never a wrapper
    # holding the article or most of the page's text).
    for br in soup.find_all("br"):
        br.replace_with(" ")
    for tag in soup.find_all(list(_DROP_TAGS)):
        if not _decomposed(tag):
            tag.decompose()
    # Text sizes measured once for every tag: a tag is judged before any of its descendants is
    # dropped (document order), so its size cannot change before it is judged.
    chars, holds_article = _subtree_stats(soup)
    page_chars = chars.get(id(soup), 0)
    for tag in soup.find_all(True):
        if _decomposed(tag) or tag.name in _KEEP_TAGS or not _looks_like_boilerplate(tag):
            continue
        if id(tag) in holds_article or chars.get(id(tag), 0) > page_chars / 2:
            continue
        tag.decompose()

    articles = soup.find_all("article")
    if articles:
        container = max(articles, key=lambda a: len(a.get_text()))
    else:
        container = soup.find("main") or soup.body or soup

    blocks = _block_texts(container)
    if not blocks:  # no block markup: fall back to the container's lines
        blocks = [ln for ln in (_collapse(x) for x in container.get_text("\n").split("\n")) if ln]
    text = "\n\n".join(blocks)
    if not text.strip():
        raise DocumentError(shown, "no article text found in the HTML")

    # Title: the article's <h1>, og:title, <title>, a remaining <h1>, the first sentence.
    title = h1_of.get(id(container)) or _collapse(meta.get("og:title", "")) or None
    if title is None and soup.title is not None:
        title = _collapse(soup.title.get_text(" ")) or None
    if title is None and (h1 := container.find("h1")):
        title = _collapse(h1.get_text(" ")) or None
    if title is None:
        title = _first_sentence(text[_dateline(text)[1] :])

    source = None
    for key in _SOURCE_META:
        if meta.get(key):
            source = meta[key]
            break
    if source is None:
        for key in _AGENCY_ONLY_META:
            if source := canonical_agency(meta.get(key)):
                break
    if source is None:
        source = _explicit_source(text)

    return _with_hash(
        Dispatch(
            doc_id=doc_id,
            title=_shorten(title) if title else None,
            date=date,
            source=source,
            language=declared_lang or _guess_language(text),
            text=text,
            source_path=source_path,
        )
    )


# --------------------------------------------------------------------------------------------
# .json / .jsonl
# --------------------------------------------------------------------------------------------


def _json_error(e: json.JSONDecodeError, line: int | None = None) -> str:
    return f"malformed JSON: {e.msg} at line {line or e.lineno} column {e.colno}"


def _record_dispatch(
    record: Any, n: int, rel: str, source_path: str, where: str, seen: dict[str, int]
) -> Dispatch:
    """One JSON record -> Dispatch; raises DocumentError(where, ...) for a bad record."""
    if not isinstance(record, dict):
        raise DocumentError(where, f"record {n} is not a JSON object")
    text = record.get("text")
    if text is None:
        raise DocumentError(where, f"record {n} has no 'text' field")
    if not isinstance(text, str):
        raise DocumentError(where, f"record {n}: 'text' is not a string")
    if not text.strip():
        raise DocumentError(where, f"record {n} has an empty 'text' field")

    raw_id = record.get("id")
    doc_id = f"{rel}#{n}" if raw_id is None or str(raw_id).strip() == "" else str(raw_id)
    if doc_id in seen:
        raise DocumentError(
            where, f"record {n}: duplicate id '{doc_id}' (first used by record {seen[doc_id]})"
        )
    seen[doc_id] = n

    title = record.get("title")
    title = _shorten(title) if isinstance(title, str) and title.strip() else None
    date = None
    for key in ("date", "datetime", "published", "published_at", "published_time"):
        if record.get(key) is not None and (date := parse_date(record[key])):
            break
    # An explicit "source"/"agency" field wins, even null (= unknown); without either field, an
    # agency dateline or signature in the text counts as explicit.
    agency, dateline_len = _dateline(text)
    if "source" in record or "agency" in record:
        source = None
        for key in ("source", "agency"):
            value = record.get(key)
            if isinstance(value, str) and value.strip():
                source = value.strip()
                break
    else:
        source = agency or _signature(text)
    language = _norm_lang(record.get("language")) or _norm_lang(record.get("lang"))

    return _with_hash(
        Dispatch(
            doc_id=doc_id,
            title=title or _first_sentence(text[dateline_len:]),
            date=date,
            source=source,
            language=language or _guess_language(text),
            text=text,
            source_path=source_path,
        )
    )


def _load_json(text: str, rel: str, source_path: str, shown: str, result: LoadResult) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DocumentError(shown, _json_error(e)) from None
    if isinstance(data, dict):
        records = [data]
    elif isinstance(data, list):
        records = data
    else:
        raise DocumentError(
            shown, f"expected a JSON object or a list of objects, got {type(data).__name__}"
        )
    if not records:
        raise DocumentError(shown, "empty JSON list, no records")
    seen: dict[str, int] = {}
    for n, record in enumerate(records, start=1):
        try:
            result.dispatches.append(_record_dispatch(record, n, rel, source_path, shown, seen))
        except DocumentError as e:
            result.errors.append(e)


def _load_jsonl(text: str, rel: str, source_path: str, shown: str, result: LoadResult) -> None:
    seen: dict[str, int] = {}
    n = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        n += 1
        where = f"{shown}:{lineno}"
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DocumentError(where, _json_error(e, lineno)) from None
            result.dispatches.append(_record_dispatch(record, n, rel, source_path, where, seen))
        except DocumentError as e:
            result.errors.append(e)
