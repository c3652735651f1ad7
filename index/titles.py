"""A dispatch's title when none is declared (its first sentence), and its language.

Pure: no I/O. Sentence ends follow the same abbreviation rules as citation chunking
(:func:`index.chunking.is_abbreviation`), so "M. Macron" is never a title cut short.
"""

from __future__ import annotations

import re
from typing import Any

from index.chunking import is_abbreviation
from index.french import fold_accents, guess_language

__all__ = ["declared_language", "first_sentence", "guess_language", "shorten"]

_TITLE_MAX = 160
_TITLE_CUT = 150
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|\n")


def first_sentence(body: str) -> str | None:
    """The body's first sentence, cut at ". ", "! ", "? " or a newline, shortened if very long."""
    s = body.lstrip()
    end = len(s)
    for m in _SENTENCE_END_RE.finditer(s):
        if m.group() == "\n":
            end = m.start()
            break
        if m.group().rstrip("\"'»”’)]") == "." and is_abbreviation(s, m.start()):
            continue  # "M. Trump", "J. Biden", "J.-C. Juncker"
        end = m.end()
        break
    title = s[:end].strip()
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    return shorten(title) or None


def shorten(title: str) -> str:
    """Whitespace collapsed; over 160 characters, cut near 150 at a word boundary with "…"."""
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


def declared_language(value: Any) -> str | None:
    """A declared language ("fr-FR", "French", "en") -> "fr" | "en" | "und"; None if absent."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = fold_accents(value.strip().lower())
    head = re.split(r"[-_\s]", v, maxsplit=1)[0]
    if head in ("fr", "fra", "fre", "french", "francais"):
        return "fr"
    if head in ("en", "eng", "english", "anglais"):
        return "en"
    return "und"
