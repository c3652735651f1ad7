"""The tantivy keyword index follows the records incrementally and is shared by processes."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from index.keyword import Changes, KeywordIndex
from index.records import ChunkRecord, DocumentRecord
from tests.test_keyword import BM25, DOC_WEIGHT, DOCS, _records

ROOT = Path(__file__).resolve().parents[1]


def _put(records, doc_id, chunks):
    with records.transaction() as tx:
        tx.put_document(DocumentRecord(
            doc_id=doc_id, root="/r", source_path=f"/r/{doc_id}", title=None, date=None, date_min=None,
            date_max=None, source=None, language="fr", text="x", body_start=0, content_hash=doc_id,
            n_chunks=len(chunks), indexed_at=0.0))
        tx.put_chunks(ChunkRecord(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, ordinal=i, start=0, end=1,
                                  embed_hash=f"{doc_id}-{i}", terms=t) for i, t in enumerate(chunks))


def _segments(folder):
    return {s["segment_id"] for kind in ("chunks", "docs")
            for s in json.loads((folder / kind / "meta.json").read_text())["segments"]}


def _docs(hits):
    return {c.rsplit("-", 1)[0] for c, _ in hits}


def test_a_sync_adds_and_deletes_only_the_changed_dispatches(tmp_path):
    records, folder = _records(tmp_path, DOCS), tmp_path / "kw"
    first = KeywordIndex.refresh(records, folder, *BM25)
    before = _segments(folder)
    assert len(first) == 7 and _docs(first.search(["volcan"], 5)) == set()

    _put(records, "new", ["volcan erupt", "lave"])
    added = KeywordIndex.refresh(records, folder, *BM25)
    assert _docs(added.search(["volcan"], 5)) == {"new"} and len(added) == 9
    assert before <= _segments(folder)  # the old postings stay: the new dispatch went to a new segment

    with records.transaction() as tx:
        tx.delete_document("lone")
    removed = KeywordIndex.refresh(records, folder, *BM25)
    assert len(removed) == 8
    assert "lone" not in _docs(removed.search(["pont"], 5)) and "spread" in _docs(removed.search(["pont"], 5))
    saved = KeywordIndex.load(folder)
    assert saved is not None and saved.generation == records.generation


def test_a_writer_applies_the_dispatches_its_run_changed_and_checks_the_counts(tmp_path):
    records, folder = _records(tmp_path, DOCS), tmp_path / "kw"
    KeywordIndex.refresh(records, folder, *BM25)
    since = records.generation
    _put(records, "new", ["volcan erupt"])
    with records.transaction() as tx:
        tx.delete_document("lone")
    index = KeywordIndex.refresh(records, folder, *BM25, changes=Changes(since, ["new", "lone"]))
    assert _docs(index.search(["volcan"], 5)) == {"new"} and "lone" not in _docs(index.search(["pont"], 5))

    since = records.generation
    _put(records, "unreported", ["volcan"])  # a change the run's list missed: the counts differ
    index = KeywordIndex.refresh(records, folder, *BM25, changes=Changes(since, []))
    assert _docs(index.search(["volcan"], 5)) == {"new", "unreported"}

    _put(records, "later", ["volcan"])  # the list of a run that began behind the saved index is not trusted
    index = KeywordIndex.refresh(records, folder, *BM25, changes=Changes(since, []))
    assert _docs(index.search(["volcan"], 5)) == {"new", "unreported", "later"}


def test_an_index_behind_the_records_is_brought_in_step_by_a_reader_with_the_lock_free(tmp_path):
    records, folder, lock = _records(tmp_path, DOCS), tmp_path / "kw", tmp_path / "index.lock"
    KeywordIndex.refresh(records, folder, *BM25)
    _put(records, "late", ["volcan"])  # a writer killed before its keyword step
    assert KeywordIndex.load(folder).generation < records.generation
    reader = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT, lock_path=lock)
    assert _docs(reader.search(["volcan"], 5)) == {"late"}
    assert KeywordIndex.load(folder).generation == records.generation


def test_a_commit_its_writer_did_not_stamp_is_rebuilt_from_the_records(tmp_path):
    """Killed between tantivy's commit and the stamp: the postings are no longer the stamped ones."""
    import tantivy

    records, folder = _records(tmp_path, DOCS), tmp_path / "kw"
    index = KeywordIndex.refresh(records, folder, *BM25)
    writer = index.indexes["chunks"].writer(heap_size=50_000_000, num_threads=1)
    stray = tantivy.Document(id="ghost-0", doc_id="ghost", terms="volcan", date_min=-1, date_max=-1, source="")
    stray.add_unsigned("key", 1)
    writer.add_document(stray)
    writer.commit()
    writer.wait_merging_threads()
    del writer
    assert KeywordIndex.load(folder) is None
    rebuilt = KeywordIndex.refresh(records, folder, *BM25)
    assert rebuilt.search(["volcan"], 5) == [] and len(rebuilt) == 7


READER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from index.keyword import Changes, KeywordIndex
    index = KeywordIndex.load(Path(sys.argv[1]))
    print(sorted(c for c, _ in index.search(["volcan"], 5)), flush=True)
    sys.stdin.readline()  # the writer has committed
    index.reload()
    print(sorted(c for c, _ in index.search(["volcan"], 5)), flush=True)
""")


def test_a_reader_process_sees_the_writers_commit_after_reload(tmp_path):
    records, folder = _records(tmp_path, DOCS), tmp_path / "kw"
    KeywordIndex.refresh(records, folder, *BM25)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(folder)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert reader.stdout.readline().strip() == "[]"
        _put(records, "new", ["volcan erupt"])
        KeywordIndex.refresh(records, folder, *BM25)  # the writer, in this process
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "['new-0']"
    finally:
        reader.kill()
        reader.wait()


def test_a_reader_serves_the_stamped_index_while_the_writer_holds_the_lock(tmp_path):
    """No rebuild per generation while an indexing run commits: the reader searches what the
    writer last stamped, and finds the new dispatch once the writer has stamped it."""
    from index.locking import writer_lock

    records, folder, lock = _records(tmp_path, DOCS), tmp_path / "kw", tmp_path / "index.lock"
    KeywordIndex.refresh(records, folder, *BM25)
    _put(records, "new", ["volcan"])
    with writer_lock(lock, 0):
        reader = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT, lock_path=lock)
        assert reader.folder == folder and reader.generation < records.generation
        assert reader.search(["volcan"], 5) == [] and _docs(reader.search(["pont"], 5)) >= {"spread"}
        KeywordIndex.refresh(records, folder, *BM25)  # the writer's own update, under its lock
    later = KeywordIndex.open(records, folder, *BM25, DOC_WEIGHT, lock_path=lock)
    assert _docs(later.search(["volcan"], 5)) == {"new"}


def test_bm25_constants_tantivy_cannot_use_are_refused(tmp_path):
    import pytest

    from index.keyword import KeywordSettingsError

    with pytest.raises(KeywordSettingsError, match="bm25_k1 1.5"):
        KeywordIndex.refresh(_records(tmp_path, DOCS), tmp_path / "kw", 1.5, 0.75)
