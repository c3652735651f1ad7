"""The timeline: pure ordering on tiny data, then the real pipeline on the seeds and on dated dispatches."""

from __future__ import annotations

import json

from conftest import SEED_DATED, SEED_UNDATED, make_settings

from assistant.answer import Citation
from assistant.pipeline import QueryFilters
from assistant.timeline import TimelineEntry, collapse_versions, event_date, order_entries, timeline_json
from assistant.timeline_cli import render_timeline


def entry(doc_id: str, date: str | None, dispatch_date: str | None = None, versions=None) -> TimelineEntry:
    citation = Citation(marker=None, doc_id=doc_id, source_path=f"/d/{doc_id}", title=doc_id, date=dispatch_date,
                        source=None, quote="q", start=0, end=1, score=1.0)
    if versions is not None:
        citation.versions = [{"doc_id": v, "title": v, "date": None, "source": None} for v in versions]
    return TimelineEntry(date=date, date_from="event" if date else None, doc_id=doc_id, title=doc_id,
                         dispatch_date=dispatch_date, source=None, citation=citation)


def test_earliest_first_a_month_before_its_days_and_undated_last():
    entries = [entry("d", None), entry("c", "2025-03-14"), entry("b", "2025-03"), entry("a", "2024-08-06"),
               entry("e", "2025-03-14", dispatch_date="2025-03-13")]
    assert [e.doc_id for e in order_entries(entries)] == ["a", "b", "e", "c", "d"]


def test_one_entry_per_version_cluster_the_first_listed_stays():
    entries = [entry("new", "2025-03-14", versions=["old"]), entry("old", "2025-03-13"), entry("other", None)]
    assert [e.doc_id for e in collapse_versions(entries)] == ["new", "other"]


def test_a_day_dates_the_entry_before_a_month():
    c = entry("a", None).citation
    c.dates = [{"text": "août", "start": 0, "end": 4, "value": "2024-08"},
               {"text": "hier", "start": 9, "end": 13, "value": "2025-03-13"},
               {"text": "vendredi", "start": 20, "end": 28, "value": None}]
    assert event_date(c)["text"] == "hier"
    c.dates = [c.dates[2]]
    assert event_date(c) is None


def test_the_seeds_kursk_timeline(seeds_pipeline):
    entries = seeds_pipeline.timeline("Koursk")
    # The dated seed first, by its own date (its key sentence, the lede, says "vendredi": a weekday in
    # a dispatch dated "2025-03" stays unresolved), the undated seed last.
    assert [e.doc_id for e in entries] == [SEED_DATED, SEED_UNDATED]
    first, last = entries
    assert (first.date, first.date_from, first.dispatch_date) == ("2025-03", "dispatch", "2025-03")
    assert first.citation.quote.startswith("Vladimir Poutine a appelé vendredi")
    assert [(d["text"], d["value"]) for d in first.citation.dates] == [("vendredi", None)]
    assert "Koursk" in last.citation.quote
    assert (last.date, last.date_from) == (None, None)
    for e in entries:
        doc = seeds_pipeline.document(e.doc_id)
        assert doc["text"][e.citation.start:e.citation.end] == e.citation.quote
        assert not e.citation.quote.startswith("Il ")  # a key sentence stands on its own
    # An English query lists the French dispatches through the model's similarity.
    assert {e.doc_id for e in seeds_pipeline.timeline("What did Trump ask Putin?")} == {SEED_DATED, SEED_UNDATED}
    assert [e.citation.marker for e in entries] == [1, 2]


def test_the_timeline_follows_the_events_not_the_dispatch_dates(tmp_path, pipelines):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    dispatches = {  # published in this order, reporting events in another
        "a.txt": "date 2025-03-15\nSoudja reprise\n\nL'armée russe a repris jeudi la ville de Soudja, dans la région "
                 "de Koursk.\n",
        "b.txt": "date 2025-03-16\nIncursion à Koursk\n\nLe 6 août 2024, l'armée ukrainienne est entrée dans la région "
                 "russe de Koursk.\n",
        "c.txt": "date 2025-03-17\nTrêve\n\nKiev a accepté mardi dernier une trêve; les combats continuent dans la "
                 "région de Koursk.\n",
    }
    for name, text in dispatches.items():
        (corpus / name).write_text(text, encoding="utf-8")
    pipeline = pipelines(make_settings(tmp_path / "data"))
    pipeline.index([corpus])
    entries = pipeline.timeline("Koursk")
    assert [(e.doc_id, e.date, e.date_from) for e in entries] == [
        ("b.txt", "2024-08-06", "event"), ("c.txt", "2025-03-11", "event"), ("a.txt", "2025-03-13", "event")]
    c = entries[1].citation
    assert c.highlight == {"start": c.start + c.quote.index("mardi dernier"),
                           "end": c.start + c.quote.index("mardi dernier") + len("mardi dernier")}
    only = pipeline.timeline("Koursk", QueryFilters(date_from="2025-03-16"))
    assert [e.doc_id for e in only] == ["b.txt", "c.txt"]
    assert pipeline.timeline("recette de la tarte tatin aux pommes", mode="keyword") == []


def test_json_and_terminal_text():
    e = entry("a", "2025-03-14", "2025-03-15")
    e.citation.quote, e.citation.end = "vendredi", 8
    e.citation.dates = [{"text": "vendredi", "start": 0, "end": 8, "value": "2025-03-14"}]
    e.citation.marker = 1
    data = json.loads(json.dumps(timeline_json("Koursk", [e], {"date_from": None})))
    assert data["schema_version"] == 1 and data["entries"][0]["citation"]["dates"][0]["value"] == "2025-03-14"
    text = render_timeline(data)
    assert text.splitlines()[0].startswith("2025-03-14  (événement)  [1] a")
    assert "« vendredi (14 mars 2025) »" in text
    assert render_timeline({**data, "entries": []}) == "Aucune dépêche ne correspond à cette recherche."


def test_cli_timeline_json_and_errors(cli, seeds_settings):
    result = cli("timeline", "Koursk", "--json", "--data-dir", seeds_settings.data_dir)
    assert result.code == 0
    data = result.json
    assert [e["doc_id"] for e in data["entries"]] == [SEED_DATED, SEED_UNDATED]
    assert data["entries"][0]["date"] == "2025-03" and data["entries"][0]["citation"]["dates"][0]["value"] is None
    bad = cli("timeline", "Koursk", "--json", "--date-from", "mars", "--data-dir", seeds_settings.data_dir)
    assert bad.code == 1 and "date_from: 'mars' is not a date" in bad.json["error"]


def _record(doc_id: str, text: str, date: str | None):
    from index.records import DocumentRecord

    return DocumentRecord(doc_id=doc_id, root="/r", source_path=f"/r/{doc_id}", title=text.split("\n")[0], date=date,
                          date_min=None, date_max=None, source=None, language="fr", text=text, body_start=0,
                          content_hash="", n_chunks=1, indexed_at=0.0)


def test_build_timeline_on_plain_records():
    from assistant.retrieval import Passage
    from assistant.timeline import build_timeline

    pronoun = "Trêve\n\nPoutine a parlé jeudi à Moscou.\n\nIl a évoqué mardi la région de Koursk."
    other = "Météo\n\nIl a plu samedi sur la Bretagne."
    docs = {"p": _record("p", pronoun, "2025-03-14"), "o": _record("o", other, "2025-03-15")}
    passages = [Passage("p#0", "p", 7, len(pronoun), 1.0, 0.5, 1.0), Passage("o#0", "o", 7, len(other), 0.5, 0.5, 0.0)]
    entries = build_timeline("Koursk", passages, docs, {"koursk": 3.0})
    assert [e.doc_id for e in entries] == ["p"]  # the weather dispatch holds none of the query's words
    c = entries[0].citation
    # The pronoun's sentence is quoted from the sentence naming its subject: one exact span.
    assert c.quote == pronoun[pronoun.index("Poutine"):]
    assert [(d["text"], d["value"]) for d in c.dates] == [("jeudi", "2025-03-13"), ("mardi", "2025-03-11")]
    assert (entries[0].date, entries[0].date_from) == ("2025-03-13", "event")
    assert build_timeline("Koursk", passages, docs, {"koursk": 3.0}, dense_floor=0.4)[1].doc_id == "o"
