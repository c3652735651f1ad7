"""`bench scale`: the replication logic (pure) and one small real run of the command."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import orangesum_articles, run_cli

from assistant.scale_replicas import (
    ReplicaEmbedder,
    all_sentence_keys,
    bag_key,
    fill_plan,
    replica_id,
    replicas,
    sentence_key,
    vary_text,
)
from index.versions import jaccard, shingles

TEXT = ("Le gouvernement a annoncé mercredi une enveloppe de sept milliards d'euros pour les soignants. "
        "Cette décision a été prise à l'issue d'une longue réunion avec les syndicats de la fonction "
        "publique hospitalière, dans la nuit de mercredi à jeudi. Les représentants des infirmiers ont "
        "salué une avancée importante mais demandent encore des moyens pour les hôpitaux de province.\n\n"
        "Le ministre de la santé doit présenter le détail des mesures la semaine prochaine devant les "
        "députés, qui examineront ensuite le projet de loi.")


def test_replica_ids_keep_the_original_and_suffix_the_others():
    assert replica_id("orangesum-2", 0) == "orangesum-2"
    assert replica_id("orangesum-2", 3) == "orangesum-2#r3"


def test_replica_zero_is_the_text_itself_and_others_are_deterministic():
    assert vary_text(TEXT, 0, "a") == TEXT
    assert vary_text(TEXT, 1, "a") == vary_text(TEXT, 1, "a")
    assert vary_text(TEXT, 1, "a") != vary_text(TEXT, 2, "a") != TEXT


def test_a_replica_keeps_its_tokens_and_whitespace_but_is_no_version_of_the_original():
    one, two = vary_text(TEXT, 1, "a"), vary_text(TEXT, 2, "a")
    for varied in (one, two):
        assert sorted(varied.split()) == sorted(TEXT.split()) and bag_key(varied) == bag_key(TEXT)
        assert re.findall(r"\s+", varied) == re.findall(r"\s+", TEXT)  # same sentence and paragraph breaks
        assert jaccard(shingles(TEXT), shingles(varied)) < 0.5  # else version clustering would merge them
    assert jaccard(shingles(one), shingles(two)) < 0.5


def test_capitalised_and_punctuated_words_never_move():
    text = "Paris, le 3 mars. Emmanuel Macron a dit oui."
    varied = vary_text(text, 5, "x")
    assert varied.startswith("Paris, le 3 mars. Emmanuel Macron") and varied.endswith("oui.")


def test_fill_plan_reaches_the_wanted_count_exactly_when_small_documents_remain():
    counts = [("a", 3), ("b", 5), ("c", 1), ("d", 2), ("e", 1)]
    chosen = fill_plan(counts, 7)
    assert sum(dict(counts)[d] for d in chosen) == 7 and chosen == ["a", "c", "d", "e"]
    assert fill_plan(counts, 0) == []
    assert fill_plan(counts, 100) == ["a", "b", "c", "d", "e"]


def test_replicas_rename_and_vary_only_the_chosen_records():
    corpus = [{"id": "a", "title": "T", "text": TEXT}, {"id": "b", "title": "U", "text": TEXT}]
    rows = list(replicas(corpus, 2, {"b"}))
    assert [r["id"] for r in rows] == ["b#r2"] and rows[0]["title"] == "U" and rows[0]["text"] != TEXT


def test_a_titled_replica_chunk_finds_the_vector_of_the_untitled_chunk_holding_its_first_sentence():
    lent = set(all_sentence_keys(TEXT))  # an index built without titles lends one key per sentence
    title = "Sept milliards pour les soignants"
    titled = f"{title}\n" + vary_text(TEXT, 3, "a")
    assert sentence_key(titled, frozenset({title})) in lent and sentence_key(TEXT) in lent
    assert sentence_key(titled) not in lent  # an unknown first line is taken as the text's


def test_chunks_of_one_titled_document_keep_distinct_keys():
    title = "Sept milliards pour les soignants"
    paragraphs = TEXT.split("\n\n")
    keys = {sentence_key(f"{title}\n{p}", frozenset({title})) for p in paragraphs}
    assert len(keys) == len(paragraphs)


class CountingEncoder:
    """A deterministic stand-in for the model (pure logic under test: what is encoded, how often)."""

    dimension = 4

    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts, show_progress=False, query=False, count=True):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0, 1.0] for t in texts], dtype=np.float32)


def test_replica_embedder_encodes_each_distinct_chunk_once_and_never_returns_identical_vectors():
    inner = CountingEncoder()
    embedder = ReplicaEmbedder(inner)
    first = embedder.embed([TEXT, vary_text(TEXT, 1, "a")])
    again = embedder.embed([vary_text(TEXT, 2, "a")])
    assert inner.calls == [[TEXT]] and embedder.encoded == 1
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(first[0], first[1]) and float(first[0] @ again[0]) > 0.99
    embedder.embed(["une question"], query=True)  # questions always go to the model
    assert inner.calls[-1] == ["une question"]


@pytest.mark.slow
def test_bench_scale_builds_n_chunks_and_reports_every_figure(tmp_path):
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in orangesum_articles(30)))
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"query": "Olivier Véran annonce une hausse pour les soignants"}\n'
                         '{"query": "remaniement du gouvernement"}\n{"query": "TVR cherche des investisseurs"}\n')
    out, work = tmp_path / "scale.json", tmp_path / "work"
    done = run_cli("bench", "scale", "--chunks", 250, "--corpus", corpus, "--questions", questions,
                   "--serve-questions", 2, "--work", work, "--keep", "--out", out, "--profile-dir", tmp_path / "prof")
    assert done.code == 0, done.err
    [row] = json.loads(out.read_text())
    assert row["store_mode"] == "embedded" and row["chunks"] == 250 and row["replicas"] >= 2
    for key in ("build_s", "query_ms_p50", "query_ms_p95", "serve_rss_mb", "sync_one_s", "cold_start_s",
                "cold_start_serve_s"):
        assert isinstance(row[key], (int, float)) and row[key] > 0, key
    assert row["query_ms_p95"] >= row["query_ms_p50"] and row["serve_rss_mb"] > 100
    assert row["encoded_chunks"] < 250  # replicas reuse the vectors of their originals
    for name in ("embedded-250-sync-inbox.txt", "embedded-250-ask.txt"):  # where the time went
        assert "cumulative" in (tmp_path / "prof" / name).read_text()

    from index.records import Records

    records = Records(work / "embedded-250" / "data" / "records.sqlite")
    try:
        documents, chunks = records.counts()
        ids = list(records.document_hashes())
        [new] = [d for d in ids if "zz_new_dispatch" in d]  # the "+1 dispatch", synced after the build
        [inbox] = [d for d in ids if "004_" in d]  # the other seed, in a folder of its own
        assert chunks - len(records.chunks_of(new)) - len(records.chunks_of(inbox)) == 250
        assert documents == row["documents"] + 2 and row["sync_inbox_s"] > 0
        assert any(d.endswith("#r1") for d in ids)
    finally:
        records.close()


def _build(pipelines, tmp_path, name: str, corpus_path, chunks: int, path: str, reuse: bool = False):
    """One archive built as `bench scale` builds it (replica embedder, no vectors lent)."""
    import argparse

    from conftest import make_settings

    from assistant.bench_scale import build
    from assistant.scale_replicas import corpus_titles, read_corpus

    settings = make_settings(tmp_path / name / "data", collection=f"bulk{name}")
    pipeline = pipelines(settings)
    corpus = read_corpus(corpus_path)
    pipeline.embedder = ReplicaEmbedder(pipeline.embedder, {}, corpus_titles(corpus))
    pipeline._indexer = None
    args = argparse.Namespace(chunks=chunks, corpus=corpus_path, build=path, bulk_workers=2, resume=False,
                              reuse_signatures=reuse)
    return settings, pipeline, build(pipeline, corpus, args, tmp_path / name / "archive")


def _rows(settings, query: str) -> list[tuple]:
    import sqlite3

    db = sqlite3.connect(f"file:{settings.records_path}?mode=ro", uri=True)
    try:
        return sorted(db.execute(query).fetchall())
    finally:
        db.close()


@pytest.mark.slow
def test_a_bulk_built_archive_is_the_index_a_real_sync_writes(tmp_path, pipelines):
    from conftest import assert_consistent

    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in orangesum_articles(25)))
    bulk_settings, bulk, figures = _build(pipelines, tmp_path, "bulk", corpus, 300, "bulk")
    sync_settings, _, _ = _build(pipelines, tmp_path, "sync", corpus, 300, "sync")
    assert figures["replicas"] >= 3 and figures["bulk_unknown_keys"] == 0
    assert 290 <= bulk.records.counts()[1] <= 300  # greedy fill: exact only while 1-chunk articles remain
    # Same chunks (ids hash doc id, bounds and embed text), terms, vectors, documents, signatures
    # as the project's own sync of the same files; and the same links: the sync finds none between
    # replicas (which the bulk path does not look for), only replica 0's own (two identical articles).
    for query in ("SELECT chunk_id, doc_id, ordinal, start, end, embed_hash, terms FROM chunks",
                  "SELECT embed_hash, vector FROM vectors",
                  "SELECT doc_id, title, date, source, language, text, body_start, content_hash, n_chunks "
                  "FROM documents", "SELECT doc_id, signature FROM signatures", "SELECT * FROM version_links"):
        assert _rows(bulk_settings, query) == _rows(sync_settings, query), query
    assert not [link for link in _rows(sync_settings, "SELECT * FROM version_links") if "#r" in str(link)]
    assert_consistent(bulk_settings)
    again = bulk.index([tmp_path / "bulk" / "archive"])  # a normal index: nothing to redo
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    assert again.unchanged == bulk.records.counts()[0] and again.repaired is None
    hits = bulk.retriever().retrieve("Olivier Véran annonce une hausse pour les soignants", 5)
    assert hits and any("#r" in h.doc_id for h in hits)
    assert_consistent(bulk_settings)


@pytest.mark.slow
def test_reused_signatures_change_only_the_replicas_signatures(tmp_path, pipelines):
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in orangesum_articles(12)))
    exact, _, _ = _build(pipelines, tmp_path, "exact", corpus, 120, "bulk")
    reused, _, figures = _build(pipelines, tmp_path, "reused", corpus, 120, "bulk", reuse=True)
    assert figures["reuse_signatures"] and figures["replicas"] >= 2
    for query in ("SELECT chunk_id, doc_id, ordinal, start, end, embed_hash, terms FROM chunks",
                  "SELECT embed_hash, vector FROM vectors", "SELECT doc_id, content_hash FROM documents"):
        assert _rows(reused, query) == _rows(exact, query), query
    signatures = dict(_rows(reused, "SELECT doc_id, signature FROM signatures"))
    replicas_ = [d for d in signatures if "#r" in d]
    assert replicas_ and all(signatures[d] == signatures[d.split("#r")[0]] for d in replicas_)
    assert dict(_rows(exact, "SELECT doc_id, signature FROM signatures")) != signatures
