"""What every loader produces: ``Dispatch`` records, and the problems it reports instead."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

__all__ = ["Dispatch", "DocumentError", "LoadResult", "dispatch_hash", "with_hash"]


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


def with_hash(d: Dispatch) -> Dispatch:
    return replace(d, content_hash=dispatch_hash(d))
