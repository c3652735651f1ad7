"""Plain text (``.txt``) and Markdown (``.md``) dispatches.

The file's text is kept exactly as stored (citation offsets index it); the metadata comes from what
may open it: Markdown front matter, ``key: value`` header lines, a ``date 2025-03`` marker, a
Markdown ``# heading``, then a dateline or a signature line naming an agency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.agencies import canonical_agency, dateline, dateline_date, signature
from index.dates import parse_date
from index.dispatch import Dispatch, DocumentError, LoadResult, with_hash
from index.titles import declared_language, first_sentence, guess_language, shorten

__all__ = ["load_markdown", "load_plain_text"]

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
            self.language = declared_language(value)
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

    agency, dateline_len = dateline(body)
    source = header.source or canonical_agency(header.author) or agency or signature(body)
    title = shorten(header.title) if header.title else first_sentence(body[dateline_len:])
    language = header.language or guess_language(body)
    return with_hash(
        Dispatch(
            doc_id=doc_id,
            title=title,
            date=header.date or (dateline_date(body) if dateline_len else None),
            source=source,
            language=language,
            text=text,
            source_path=source_path,
            body_start=body_start,
        )
    )


def load_plain_text(text: str, doc_id: str, source_path: str, shown: str) -> LoadResult:
    return LoadResult([_load_plain(text, doc_id, source_path, shown, markdown=False)])


def load_markdown(text: str, doc_id: str, source_path: str, shown: str) -> LoadResult:
    return LoadResult([_load_plain(text, doc_id, source_path, shown, markdown=True)])
