"""A timeline: the dispatches about a subject, one key sentence each, in the order of what they report.

An entry is dated by the event its key sentence reports, when a date mention there resolves against
the dispatch's date ("vendredi" in a dispatch of Saturday 15 March 2025 -> 2025-03-14), else by the
dispatch's own date; undated entries come last. The key sentence is the dispatch's best-scoring
sentence for the query (the answers' sentence scoring), preferring one that dates what it says, and
its citation is built by the same code as an answer's citations, so every field a citation carries
(dates, speaker, versions) is there. Two versions of one wire copy make one entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from assistant.answer import SCHEMA_VERSION, Candidate, Citation, _candidates, _citation
from assistant.date_mentions import quote_dates
from assistant.retrieval import Passage
from index.dates import date_range
from index.french import analyze
from index.records import DocumentRecord

__all__ = ["TimelineEntry", "build_timeline", "collapse_versions", "event_date", "order_entries",
           "timeline_json"]

# A sentence that dates what it says is worth this much sentence score as a timeline's key sentence.
DATED_BONUS = 0.5
# Share of the query's weighted terms a dispatch's key sentence (with its title) must hold to be listed
# on words alone; below it, the passage's cosine must stand `dense_margin` above the background.
MIN_COVERAGE = 0.5


@dataclass
class TimelineEntry:
    date: str | None  # the event date ("YYYY-MM-DD" | "YYYY-MM") or the dispatch's date; None: undated
    date_from: str | None  # "event" (a date mention of the key sentence) | "dispatch" | None
    doc_id: str
    title: str | None
    dispatch_date: str | None
    source: str | None
    citation: Citation


def event_date(citation: Citation) -> dict[str, Any] | None:
    """The key sentence's date mention that dates the entry: the first one resolved to a day, else to a month."""
    resolved = [d for d in citation.dates if d.get("value")]
    days = [d for d in resolved if len(d["value"]) == 10]
    return (days or resolved or [None])[0]


def _sort_key(entry: TimelineEntry) -> tuple[Any, ...]:
    span = date_range(entry.date) if entry.date else None
    dispatch = date_range(entry.dispatch_date) if entry.dispatch_date else None
    return (span is None, span or (0, 0), dispatch or (99999999, 99999999), entry.doc_id)


def order_entries(entries: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    """Earliest first (a month before the days in it), undated last; ties by dispatch date, then id."""
    return sorted(entries, key=_sort_key)


def collapse_versions(entries: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    """One entry per version cluster: a dispatch listed in an earlier entry's `versions` is left out."""
    kept: list[TimelineEntry] = []
    covered: set[str] = set()
    for entry in entries:
        if entry.doc_id in covered:
            continue
        kept.append(entry)
        covered.add(entry.doc_id)
        covered.update(v.get("doc_id") for v in (getattr(entry.citation, "versions", None) or []))
    return kept


def _key_candidate(cands: list[Candidate]) -> Candidate:
    """The best sentence saying any of the query's words, one standing on its own first; one opening on
    "il" after a paragraph break is quoted from the sentence before it that names the subject (one
    exact span)."""
    def worth(c: Candidate) -> tuple[bool, int, float]:
        dated = any(d["value"] for d in quote_dates(c.doc.text, c.start, c.end, c.doc.date))
        return (c.coverage > 0, 2 if c.standalone else 1 if c.lead is not None else 0,
                c.score + (DATED_BONUS if dated else 0.0))

    best = max(cands, key=worth)
    return replace(best, start=best.lead[0], standalone=True, lead=None) if best.lead is not None else best


def _entry(cand: Candidate) -> TimelineEntry:
    citation = _citation(None, cand)
    mention = event_date(citation)
    if mention is not None:
        citation.highlight = {"start": mention["start"], "end": mention["end"]}
    doc = cand.doc
    date = mention["value"] if mention else doc.date
    return TimelineEntry(date=date, date_from="event" if mention else ("dispatch" if doc.date else None),
                         doc_id=doc.doc_id, title=doc.title, dispatch_date=doc.date, source=doc.source,
                         citation=citation)


def build_timeline(query: str, passages: list[Passage], docs: dict[str, DocumentRecord],
                   term_weights: dict[str, float], dense_floor: float | None = None,
                   limit: int = 20) -> list[TimelineEntry]:
    """The entries for `query` from its retrieved passages (best first), ordered by date.

    `dense_floor`: a passage whose cosine reaches it lists its dispatch even with few of the query's
    words (an English query over French dispatches); None lists on words alone.
    """
    q_terms = list(dict.fromkeys(analyze(query)))
    by_doc: dict[str, list[Candidate]] = {}
    for cand in _candidates(query, q_terms, passages, docs, term_weights):
        by_doc.setdefault(cand.doc.doc_id, []).append(cand)
    entries = []
    for cands in by_doc.values():
        dense = max(c.passage.dense for c in cands)
        if max(c.coverage for c in cands) < MIN_COVERAGE and (dense_floor is None or dense < dense_floor):
            continue
        entries.append(_entry(_key_candidate(cands)))
        if len(entries) >= limit:
            break
    # Versions collapse in retrieval order (the best-ranked version stays), then the rest is dated.
    ordered = order_entries(collapse_versions(entries))
    for marker, entry in enumerate(ordered, start=1):
        entry.citation.marker = marker
    return ordered


def timeline_json(query: str, entries: list[TimelineEntry], filters: dict[str, Any] | None = None,
                  language: str = "fr") -> dict[str, Any]:
    """What `timeline --json` prints and the chat's Chronologie view reads."""
    return {"schema_version": SCHEMA_VERSION, "query": query, "language": language, "filters": filters or {},
            "entries": [asdict(e) for e in entries]}
