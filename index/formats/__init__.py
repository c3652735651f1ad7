"""One loader per file format, chosen by the file's suffix (lowercased).

A loader takes the file's decoded text, the dispatch id the file gets, its absolute path and the
path shown in errors; it returns the dispatches and per-record problems (``LoadResult``) and raises
``DocumentError`` for a problem with the whole file.
"""

from __future__ import annotations

from collections.abc import Callable

from index.dispatch import LoadResult
from index.formats.html import load_html
from index.formats.json import load_json, load_jsonl
from index.formats.plain import load_markdown, load_plain_text

__all__ = ["LOADERS", "SUPPORTED_SUFFIXES", "Loader"]

Loader = Callable[[str, str, str, str], LoadResult]  # (text, doc_id, source_path, shown)

LOADERS: dict[str, Loader] = {
    ".txt": load_plain_text,
    ".md": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".json": load_json,
    ".jsonl": load_jsonl,
}
SUPPORTED_SUFFIXES = tuple(LOADERS)
