"""The BM25 keyword index on tiny hand-made records: chunk scores, document scores, persistence."""

import pytest

from assistant.settings import Settings
from index.keyword import Filters, KeywordIndex
from index.records import ChunkRecord, DocumentRecord, Records

BM25 = (Settings().bm25_k1, Settings().bm25_b)
DOC_WEIGHT = Settings().bm25_doc_weight


def _records(tmp_path, docs):
    """docs: {doc_id: (date, [chunk terms, ...])}"""
    records = Records(tmp_path / "records.sqlite")
    with records.transaction() as tx:
        for doc_id, (date_span, chunks) in docs.items():
            tx.put_document(DocumentRecord(
                doc_id=doc_id, root="/r", source_path=f"/r/{doc_id}", title=None, date=None,
                date_min=date_span[0] if date_span else None, date_max=date_span[1] if date_span else None,
                source="AFP" if doc_id.startswith("afp") else None, language="fr", text="x", body_start=0,
                content_hash=doc_id, n_chunks=len(chunks), indexed_at=0.0))
            tx.put_chunks(ChunkRecord(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, ordinal=i, start=0, end=1,
                                      embed_hash=f"{doc_id}-{i}", terms=terms) for i, terms in enumerate(chunks))
    return records


DOCS = {
    # The question's two words live in different chunks of the same article.
    "spread": (None, ["pont inaugur", "ouvri salu", "pluie"]),
    # One of the words each, alone in a short chunk: chunk BM25 prefers these.
    "single": (None, ["ouvri"]),
    "lone": (None, ["pont"]),
    "afp-other": ((20250301, 20250331), ["match foot stad", "but victoir"]),
}


def test_document_score_lifts_an_article_whose_words_are_spread_over_chunks(tmp_path):
    index = KeywordIndex.build(_records(tmp_path, DOCS), *BM25)
    index.doc_weight = 0.0
    chunk_only = [c for c, _ in index.search(["pont", "ouvri"], 3)]
    assert chunk_only[0] in ("single-0", "lone-0")  # a short chunk with one word wins on chunk BM25
    index.doc_weight = 0.7
    mixed = [c for c, _ in index.search(["pont", "ouvri"], 3)]
    assert mixed[0].startswith("spread-")
    # A chunk of the right article that holds none of the words still gets its document's share.
    scores = index.score_chunks(["pont", "ouvri"], ["spread-2", "afp-other-0"])
    assert scores["spread-2"] > 0 and scores["afp-other-0"] == 0


def test_filters_and_persistence_round_trip(tmp_path):
    records = _records(tmp_path, DOCS)
    index = KeywordIndex.open(records, tmp_path / "kw", *BM25, DOC_WEIGHT)
    hits = index.search(["foot", "pont"], 5, Filters(sources=("afp",)))
    assert {c.rsplit("-", 1)[0] for c, _ in hits} == {"afp-other"}
    hits = index.search(["foot", "pont"], 5, Filters(date_from=20250315, date_to=20250401))
    assert [c for c, _ in hits][0] == "afp-other-0"
    assert {c.rsplit("-", 1)[0] for c, _ in hits} == {"afp-other"}
    again = KeywordIndex.load(tmp_path / "kw")
    assert again is not None and again.generation == records.generation
    again.doc_weight = DOC_WEIGHT  # a query-time share, not saved with the index
    assert again.search(["pont", "ouvri"], 3) == index.search(["pont", "ouvri"], 3)


def test_unknown_terms_find_nothing(tmp_path):
    index = KeywordIndex.build(_records(tmp_path, DOCS), *BM25)
    assert index.search(["inconnu"], 5) == []


def _truncate(path, size):
    with open(path, "r+b") as fh:
        fh.truncate(size)


def _edit_meta(folder, change):
    import json

    meta = json.loads((folder / "keyword.json").read_text(encoding="utf-8"))
    change(meta)
    (folder / "keyword.json").write_text(json.dumps(meta), encoding="utf-8")


def _segment_file(folder, kind, ext):
    return next((folder / kind).glob(f"*.{ext}"))


def _rewrite(path, data):
    """Damage a segment file as a new file: rewriting it in place would pull the pages from under
    the mappings an earlier open left in this test process (SIGBUS), not what a restart sees."""
    tmp = path.with_suffix(".damaged")
    tmp.write_bytes(data)
    tmp.replace(path)


def _garble(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    _rewrite(path, bytes(raw))


KEYWORD_DAMAGE = {
    "terms garbled in place": lambda kw: _garble(_segment_file(kw, "chunks", "term")),
    "postings truncated": lambda kw: _rewrite(_segment_file(kw, "chunks", "idx"),
                                              _segment_file(kw, "chunks", "idx").read_bytes()[:10]),
    "terms deleted": lambda kw: _segment_file(kw, "docs", "term").unlink(),
    "tantivy meta.json truncated": lambda kw: _truncate(kw / "chunks" / "meta.json", 20),
    "tantivy meta.json deleted": lambda kw: (kw / "docs" / "meta.json").unlink(),
    "index folder deleted": lambda kw: __import__("shutil").rmtree(kw / "chunks"),
    "json field missing": lambda kw: _edit_meta(kw, lambda m: m.pop("generation")),
    "json files emptied": lambda kw: _edit_meta(kw, lambda m: m.update(files={})),
    "json not an object": lambda kw: (kw / "keyword.json").write_text("[1, 2]", encoding="utf-8"),
    "json truncated": lambda kw: _truncate(kw / "keyword.json", 20),
}


@pytest.mark.parametrize("damage", list(KEYWORD_DAMAGE))
def test_a_damaged_keyword_index_is_detected_and_rebuilt(tmp_path, damage):
    records = _records(tmp_path, DOCS)
    folder = tmp_path / "kw"
    expected = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT).search(["pont", "ouvri"], 3)
    KEYWORD_DAMAGE[damage](folder)
    assert KeywordIndex.load(folder) is None
    rebuilt = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT)
    assert rebuilt.search(["pont", "ouvri"], 3) == expected
    assert KeywordIndex.load(folder) is not None  # saved again, whole


def test_a_reader_saves_a_rebuilt_index_only_under_the_free_writer_lock(tmp_path):
    """A `serve` worker or `ask` whose saved index lags rebuilds it in memory; it writes the folder
    only when it can take the writer lock at once, so it never races an indexing run's save."""
    from index.locking import writer_lock

    records = _records(tmp_path, DOCS)
    folder, lock = tmp_path / "kw", tmp_path / "index.lock"
    with writer_lock(lock, 0):  # an indexing run is writing
        held = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT, lock_path=lock)
        assert held.search(["pont", "ouvri"], 3) and not folder.exists()
    free = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT, lock_path=lock)
    saved = KeywordIndex.load(folder)
    assert saved is not None and saved.generation == records.generation
    assert free.search(["pont", "ouvri"], 3) == held.search(["pont", "ouvri"], 3)
