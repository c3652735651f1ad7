"""JSON dispatches: one object or a list of objects (``.json``), one object a line (``.jsonl``).

Each record needs a ``text`` field, kept exactly; a bad record is reported and the others load.
"""

from __future__ import annotations

import json
from typing import Any

from index.agencies import dateline, signature
from index.dates import parse_date
from index.dispatch import Dispatch, DocumentError, LoadResult, with_hash
from index.titles import declared_language, first_sentence, guess_language, shorten

__all__ = ["load_json", "load_jsonl"]


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
    title = shorten(title) if isinstance(title, str) and title.strip() else None
    date = None
    for key in ("date", "datetime", "published", "published_at", "published_time"):
        if record.get(key) is not None and (date := parse_date(record[key])):
            break
    # An explicit "source"/"agency" field wins, even null (= unknown); without either field, an
    # agency dateline or signature in the text counts as explicit.
    agency, dateline_len = dateline(text)
    if "source" in record or "agency" in record:
        source = None
        for key in ("source", "agency"):
            value = record.get(key)
            if isinstance(value, str) and value.strip():
                source = value.strip()
                break
    else:
        source = agency or signature(text)
    language = declared_language(record.get("language")) or declared_language(record.get("lang"))

    return with_hash(
        Dispatch(
            doc_id=doc_id,
            title=title or first_sentence(text[dateline_len:]),
            date=date,
            source=source,
            language=language or guess_language(text),
            text=text,
            source_path=source_path,
        )
    )


def load_json(text: str, rel: str, source_path: str, shown: str) -> LoadResult:
    result = LoadResult()
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
    return result


def load_jsonl(text: str, rel: str, source_path: str, shown: str) -> LoadResult:
    result = LoadResult()
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
    return result
