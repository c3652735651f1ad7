"""Indexing with the real model and the real embedded Chroma: metadata, offsets, incremental sync,
bad files, removal, nested roots, rebuild and repair of the vector store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import (
    SEED_DATED,
    SEED_UNDATED,
    SEEDS,
    assert_consistent,
    cited,
    copy_seeds,
    make_settings,
    orangesum_articles,
    read_state,
)

pytestmark = pytest.mark.slow  # the real model and Chroma


def write_article(folder: Path, article: dict) -> Path:
    """An OrangeSum article as a .txt dispatch with header lines (title/date/source)."""
    path = folder / f"{article['id']}.txt"
    path.write_text(f"title: {article['title']}\ndate: {article['date']}\nsource: {article['source']}\n\n"
                    f"{article['text']}\n", encoding="utf-8")
    return path


# -- metadata and offsets -------------------------------------------------------------------------

def test_seed_metadata(seeds_pipeline):
    docs = {d["doc_id"]: d for d in seeds_pipeline.documents()}
    assert set(docs) == {SEED_DATED, SEED_UNDATED}

    dated = seeds_pipeline.document(SEED_DATED)
    assert dated["date"] == "2025-03"
    assert dated["title"].startswith("Vladimir Poutine a appelé vendredi les soldats ukrainiens à déposer les armes")
    assert dated["language"] == "fr"
    assert dated["source"] is None  # the text mentions the AFP but never states it as its source
    assert dated["source_path"] == str((SEEDS / SEED_DATED).resolve())
    assert dated["text"] == (SEEDS / SEED_DATED).read_text(encoding="utf-8")  # offsets index the file as stored
    record = seeds_pipeline.records.document(SEED_DATED)
    assert (record.date_min, record.date_max) == (20250301, 20250331)
    assert record.text[record.body_start:].startswith("Vladimir Poutine")  # the "date" marker is not body

    undated = seeds_pipeline.document(SEED_UNDATED)
    assert undated["date"] is None
    assert undated["title"].startswith("Le président américain Donald Trump a exhorté vendredi")
    assert undated["language"] == "fr"
    assert undated["source"] is None
    record = seeds_pipeline.records.document(SEED_UNDATED)
    assert (record.date_min, record.date_max, record.body_start) == (None, None, 0)

    for doc_id, doc in docs.items():
        assert doc["chunks"] == len(seeds_pipeline.records.chunks_of(doc_id)) > 1


def test_chunk_offsets_round_trip(seeds_pipeline, seeds_settings):
    records = seeds_pipeline.records
    store = seeds_pipeline.indexer.vector_store()
    stored = store._collection.get(include=["documents", "metadatas"])
    chroma = {cid: (text, meta) for cid, text, meta in zip(stored["ids"], stored["documents"], stored["metadatas"])}
    for doc in records.documents():
        chunks = records.chunks_of(doc.doc_id)
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        covered: set[int] = set()
        for before, chunk in zip([None] + chunks, chunks):
            assert doc.body_start <= chunk.start < chunk.end <= len(doc.text)
            piece = doc.text[chunk.start:chunk.end]
            assert piece.strip(), "empty chunk"
            text, meta = chroma[chunk.chunk_id]
            assert text is None, "Chroma holds vectors and filter metadata; the records hold the text"
            assert (meta["doc_id"], meta["start"], meta["end"]) == (doc.doc_id, chunk.start, chunk.end)
            if before is not None:
                assert before.start < chunk.start, "chunks go forward"
                assert not doc.text[before.end:chunk.start].strip(), "only whitespace between chunks"
            covered.update(range(chunk.start, chunk.end))
        uncovered = [i for i in range(doc.body_start, len(doc.text)) if not doc.text[i].isspace() and i not in covered]
        assert uncovered == [], f"{doc.doc_id}: text outside every chunk: {doc.text[uncovered[0]:uncovered[0] + 60]!r}"
    assert_consistent(seeds_settings)


# -- incremental sync -----------------------------------------------------------------------------

OURS_QUESTION = "Combien l'État va-t-il mobiliser pour la cohabitation entre ours et pastoralisme ?"
APPENDED = ("Le négociateur Bartholomé Zénobe a annoncé samedi un accord sur les exportations de céréales "
            "signé à Genève.")


def test_incremental_sync(tmp_path, pipelines, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    hong_kong, ours, oiseaux = orangesum_articles(3, skip=2)  # orangesum-8, -10, -15
    for article in (hong_kong, oiseaux):
        write_article(corpus, article)
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)

    # First run: everything is new and embedded exactly once.
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert sorted(report.added) == sorted([SEED_DATED, SEED_UNDATED, f"{hong_kong['id']}.txt", f"{oiseaux['id']}.txt"])
    assert report.failed == [] and report.updated == [] and report.removed == []
    assert report.chunks_embedded == report.chunks_written == report.chunks_total > 0
    assert embedder.embedded_count - before == report.chunks_embedded
    meta = pipeline.document(f"{hong_kong['id']}.txt")
    assert (meta["title"], meta["date"], meta["source"]) == (hong_kong["title"], hong_kong["date"], "AFP")
    assert_consistent(settings)

    # Unchanged: a second run in a row embeds and rewrites nothing.
    generation = pipeline.records.generation
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert (report.added, report.updated, report.removed, report.failed) == ([], [], [], [])
    assert report.unchanged == 4
    assert report.chunks_embedded == report.chunks_written == 0
    assert embedder.embedded_count == before
    assert pipeline.records.generation == generation, "a no-op sync must not invalidate the derived stores"

    # Add: only the new article is embedded.
    ours_path = write_article(corpus, ours)
    ours_id = ours_path.name
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert report.added == [ours_id] and report.updated == [] and report.unchanged == 4
    assert report.chunks_embedded == pipeline.document(ours_id)["chunks"] == report.chunks_written
    assert embedder.embedded_count - before == report.chunks_embedded
    answer = pipeline.ask(OURS_QUESTION)
    assert answer.retrieved_doc_ids[0] == ours_id
    assert ours_id in cited(answer) and any("10 millions" in c.quote for c in answer.citations)
    assert_consistent(settings)

    # Modify: the unchanged chunks keep their vectors, only the changed tail is embedded.
    undated = corpus / SEED_UNDATED
    old_chunk_ids = {c.chunk_id for c in pipeline.records.chunks_of(SEED_UNDATED)}
    undated.write_text(undated.read_text(encoding="utf-8") + "\n\n" + APPENDED + "\n", encoding="utf-8")
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert report.updated == [SEED_UNDATED] and report.added == [] and report.unchanged == 4
    n_chunks = pipeline.document(SEED_UNDATED)["chunks"]
    assert 0 < report.chunks_embedded < n_chunks
    assert embedder.embedded_count - before == report.chunks_embedded
    new_chunk_ids = {c.chunk_id for c in pipeline.records.chunks_of(SEED_UNDATED)}
    assert len(new_chunk_ids - old_chunk_ids) >= report.chunks_embedded, "new text, new chunk ids"
    assert not (old_chunk_ids - new_chunk_ids) & set(read_state(settings).chroma_chunk_ids)
    answer = pipeline.ask("Qui a annoncé un accord sur les exportations de céréales signé à Genève ?")
    assert not answer.abstained
    assert any("Bartholomé Zénobe" in c.quote and c.doc_id == SEED_UNDATED for c in answer.citations)
    assert_consistent(settings)

    # Delete: the article leaves every store and never shows up in an answer again.
    ours_path.unlink()
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert report.removed == [ours_id] and report.chunks_embedded == 0
    assert embedder.embedded_count == before
    assert pipeline.document(ours_id) is None
    state = assert_consistent(settings)
    assert ours_id not in state.documents
    for mode in ("hybrid", "dense", "keyword"):
        answer = pipeline.ask(OURS_QUESTION, mode=mode)
        assert ours_id not in answer.retrieved_doc_ids and ours_id not in cited(answer)
        assert all(c.doc_id != ours_id for c in answer.related)

    # And a final run in a row is a no-op again.
    report = pipeline.index()
    assert report.chunks_embedded == 0 and report.unchanged == 4 and report.removed == []


def test_index_without_paths_resyncs_previous_roots(tmp_path, pipelines):
    corpus_a = copy_seeds(tmp_path / "a")
    corpus_b = tmp_path / "b"
    corpus_b.mkdir()
    (article,) = orangesum_articles(1, skip=4)
    write_article(corpus_b, article)
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)
    pipeline.index([corpus_a])
    pipeline.index([corpus_b])
    assert pipeline.status()["roots"] == [str(corpus_a.resolve()), str(corpus_b.resolve())]

    (corpus_a / SEED_DATED).unlink()
    write_article(corpus_b, {**article, "id": "second", "text": article["text"] + "\n\nUne phrase de plus."})
    report = pipeline.index()  # no paths: every root indexed before
    assert report.removed == [SEED_DATED] and report.added == ["second.txt"]
    assert report.unchanged == 2 and report.failed == []
    assert_consistent(settings)

    # A root that disappeared is reported, and its documents are kept.
    shutil.rmtree(corpus_b)
    report = pipeline.index()
    assert [f["file"] for f in report.failed] == [str(corpus_b.resolve())]
    assert "not found" in report.failed[0]["reason"]
    assert report.removed == [] and pipeline.document("second.txt") is not None


# -- bad files ------------------------------------------------------------------------------------

def write_bad_files(folder: Path) -> dict[str, str]:
    """Each bad file -> a word its failure reason must contain."""
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "empty.txt").write_text("   \n\n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Dépêche écrite en Latin-1 : le préfet a annoncé.".encode("latin-1"))
    (folder / "broken.json").write_text('{"title": "Sans fin", "text": "Le texte', encoding="utf-8")
    (folder / "huge.txt").write_text("Une phrase longue et répétée. " * 2000, encoding="utf-8")
    return {"binary.txt": "binary", "empty.txt": "empty", "latin1.txt": "UTF-8",
            "broken.json": "malformed JSON", "huge.txt": "max_file_bytes"}


def test_bad_files_are_reported_skipped_and_nothing_is_lost(tmp_path, pipelines, cli):
    corpus = copy_seeds(tmp_path / "corpus")
    good_json = corpus / "good.json"
    good_json.write_text('{"id": "bon", "title": "Le préfet de Corrèze inaugure un pont", "date": "2024-05-02", '
                         '"text": "Le préfet de Corrèze a inauguré mardi le nouveau pont de Tulle. '
                         'Il a coûté douze millions d\'euros."}', encoding="utf-8")
    data = tmp_path / "data"
    settings = make_settings(data, max_file_bytes=20000)
    pipelines(settings).index([corpus])
    reasons = write_bad_files(corpus)
    # A file indexed before turns bad: it is reported, and its document is kept as it was.
    good_json.write_text('{"id": "bon", "title": "Le préfet", "text": ', encoding="utf-8")

    result = cli("index", corpus, "--data-dir", data, "--max-file-bytes", 20000, "--json")
    assert result.code == 3
    report = result.json
    failed = {Path(f["file"]).name: f["reason"] for f in report["failed"]}
    assert set(failed) == set(reasons) | {"good.json"}
    for name, word in reasons.items():
        assert word in failed[name], f"{name}: {failed[name]}"
    assert "malformed JSON" in failed["good.json"]
    for f in report["failed"]:
        assert Path(f["file"]).is_absolute() and Path(f["file"]).exists()
    assert report["summary"]["failed"] == len(failed)
    assert report["removed"] == [] and report["documents_total"] == 3

    pipeline = pipelines(settings)
    assert {d["doc_id"] for d in pipeline.documents()} == {SEED_DATED, SEED_UNDATED, "bon"}
    assert "bon" in cited(pipeline.ask("Combien a coûté le nouveau pont de Tulle ?"))
    assert_consistent(settings)

    # Plain output names each file and its reason on stderr; the exit code is still 3.
    result = cli("index", corpus, "--data-dir", data, "--max-file-bytes", 20000)
    assert result.code == 3
    for name in reasons:
        assert any(line.startswith("failed: ") and name in line for line in result.err.splitlines()), result.err

    # Fixing the files brings them in; the exit code goes back to 0.
    for name in reasons:
        (corpus / name).unlink()
    good_json.write_text('{"id": "bon", "title": "Le préfet de Corrèze inaugure un pont", "text": '
                         '"Le préfet a inauguré le pont de Tulle."}', encoding="utf-8")
    result = cli("index", corpus, "--data-dir", data, "--json")
    assert result.code == 0 and result.json["updated"] == ["bon"] and result.json["failed"] == []


def test_jsonl_with_one_bad_line_keeps_the_others(tmp_path, pipelines):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = '{"id": "a", "title": "Tempête sur la Bretagne", "text": "Une tempête a frappé Brest lundi."}'
    other = '{"id": "b", "title": "Grève à Lyon", "text": "Les conducteurs de bus de Lyon sont en grève."}'
    (corpus / "feed.jsonl").write_text(f"{good}\n{other}\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)
    pipeline.index([corpus])
    (corpus / "feed.jsonl").write_text(f"{good}\n{{not json\n", encoding="utf-8")
    report = pipeline.index([corpus])
    assert [f["file"] for f in report.failed] == [f"{(corpus / 'feed.jsonl').resolve()}:2"]
    assert "malformed JSON" in report.failed[0]["reason"] and "line 2" in report.failed[0]["reason"]
    # Record "b" may have been on the bad line: with the file partly unreadable, nothing from it is dropped.
    assert report.removed == [] and {d["doc_id"] for d in pipeline.documents()} == {"a", "b"}


# -- removal --------------------------------------------------------------------------------------

def test_removed_document_stays_out_until_it_changes(tmp_path, pipelines):
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)
    pipeline.index([corpus])
    question = "Qui est la secrétaire de presse de la Maison Blanche ?"
    assert SEED_UNDATED in cited(pipeline.ask(question))

    assert pipeline.remove(SEED_UNDATED) is True
    assert pipeline.remove(SEED_UNDATED) is False
    assert pipeline.document(SEED_UNDATED) is None
    assert_consistent(settings)
    for mode in ("hybrid", "dense", "keyword"):
        answer = pipeline.ask(question, mode=mode)
        assert SEED_UNDATED not in answer.retrieved_doc_ids
        assert SEED_UNDATED not in cited(answer) | {c.doc_id for c in answer.related}

    report = pipeline.index([corpus])  # the file is still there, unchanged
    assert report.added == [] and report.updated == [] and report.chunks_embedded == 0
    assert pipeline.document(SEED_UNDATED) is None
    report = pipeline.index()
    assert pipeline.document(SEED_UNDATED) is None and SEED_UNDATED not in cited(pipeline.ask(question))
    assert_consistent(settings)

    report = pipeline.index(reset=True)  # re-embedding everything keeps the user's removal
    assert report.added == [SEED_DATED] and pipeline.document(SEED_UNDATED) is None
    assert_consistent(settings)

    # Editing the file is a new version: it comes back.
    path = corpus / SEED_UNDATED
    path.write_text(path.read_text(encoding="utf-8") + "\n\nMise à jour.\n", encoding="utf-8")
    report = pipeline.index()
    assert report.added == [SEED_UNDATED]
    assert SEED_UNDATED in cited(pipeline.ask(question))


# -- rebuild and repair of the vector store -----------------------------------------------------

def test_rebuild_reuses_recorded_vectors(tmp_path, pipelines, embedder):
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)
    pipeline.index([SEEDS])
    ids = set(read_state(settings).record_chunk_ids)
    before = embedder.embedded_count
    report = pipeline.index(rebuild=True)
    assert report.repaired and "rebuilt" in report.repaired
    assert report.chunks_embedded == 0 and report.unchanged == 2
    assert embedder.embedded_count == before
    assert set(assert_consistent(settings).chroma_chunk_ids) == ids
    answer = pipeline.ask("Qui a appelé les soldats ukrainiens à déposer les armes ?", mode="dense")
    assert answer.retrieved_doc_ids


DAMAGE = {
    "collection folder deleted": lambda chroma: [shutil.rmtree(d) for d in chroma.iterdir() if d.is_dir()],
    "whole store deleted": lambda chroma: shutil.rmtree(chroma),
    "sqlite truncated": lambda chroma: (chroma / "chroma.sqlite3").write_bytes(
        (chroma / "chroma.sqlite3").read_bytes()[:4096]),
    "sqlite overwritten": lambda chroma: (chroma / "chroma.sqlite3").write_bytes(b"not a database" * 512),
}


# A fresh process (as after a crash or a manual deletion): asks, then syncs, and reports how much it embedded.
ASK_THEN_SYNC = """
import json, sys
from pathlib import Path
from assistant.pipeline import Pipeline
from assistant.settings import Settings
pipeline = Pipeline(Settings(data_dir=Path(sys.argv[1])))
answer = pipeline.ask(sys.argv[2])
embedded_by_ask = pipeline.embedder.embedded_count
report = pipeline.index()
print(json.dumps({"answer": answer.to_dict(), "embedded_by_ask": embedded_by_ask, "report": report.to_dict(),
                  "embedded": pipeline.embedder.embedded_count}))
"""


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_store_is_rebuilt_without_reembedding(damage, tmp_path, seeds_settings):
    """Damage Chroma on disk; a fresh process answers from a repaired store and embeds only the question."""
    import json
    import subprocess
    import sys

    from conftest import REPO, subprocess_env

    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    settings = make_settings(data)
    ids = set(assert_consistent(settings).record_chunk_ids)
    DAMAGE[damage](settings.chroma_path)

    proc = subprocess.run([sys.executable, "-c", ASK_THEN_SYNC, str(data),
                           "Qui a appelé les soldats ukrainiens à déposer les armes ?"],
                          capture_output=True, text=True, env=subprocess_env(), cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["embedded_by_ask"] == 1 and out["embedded"] == 1  # the question only, never a chunk
    assert out["report"]["chunks_embedded"] == 0 and out["report"]["unchanged"] == 2
    answer = out["answer"]
    assert not answer["abstained"] and any("Poutine" in c["quote"] for c in answer["citations"])
    state = assert_consistent(settings)
    assert set(state.chroma_chunk_ids) == ids
    assert state.documents.keys() == {SEED_DATED, SEED_UNDATED}


def test_bad_collection_name_is_refused_without_touching_the_store(tmp_path, seeds_settings, cli):
    """A failed open of an embedded store means "rebuild it"; a typo in a setting must not get that far."""
    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    ids = set(read_state(make_settings(data)).chroma_chunk_ids)
    files = sorted(p.relative_to(data) for p in (data / "chroma").rglob("*"))
    for argv in (["ask", "Qui ?"], ["index"], ["index", "--rebuild"]):
        result = cli(*argv, "--data-dir", data, "--collection", "x", "--json")
        assert result.code == 1, argv
        assert "'x' is not a valid Chroma collection name" in result.json["error"]
    assert sorted(p.relative_to(data) for p in (data / "chroma").rglob("*")) == files
    assert set(read_state(make_settings(data)).chroma_chunk_ids) == ids


def test_nested_roots_never_duplicate_or_fail(tmp_path, pipelines, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    sub = corpus / "sub"
    sub.mkdir()
    (corpus / SEED_UNDATED).rename(sub / SEED_UNDATED)
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)

    # A file, then the folder holding it: the folder takes the document over.
    pipeline.index([corpus / SEED_DATED])
    report = pipeline.index([corpus])
    assert report.failed == [] and report.added == [f"sub/{SEED_UNDATED}"]
    # A sub-folder of an indexed folder is already covered: same ids, nothing new.
    report = pipeline.index([sub])
    assert report.failed == [] and report.added == [] and report.chunks_embedded == 0
    report = pipeline.index()
    assert report.failed == [] and report.added == [] and report.removed == []
    assert sorted(d["doc_id"] for d in pipeline.documents()) == [SEED_DATED, f"sub/{SEED_UNDATED}"]
    assert_consistent(settings)

    # A sub-folder first, then its parent: one copy of each document, and no re-embedding.
    other = make_settings(tmp_path / "data2")
    pipeline = pipelines(other)
    pipeline.index([sub])
    assert [d["doc_id"] for d in pipeline.documents()] == [SEED_UNDATED]
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert report.failed == []
    assert sorted(d["doc_id"] for d in pipeline.documents()) == [SEED_DATED, f"sub/{SEED_UNDATED}"]
    assert report.chunks_embedded == pipeline.document(SEED_DATED)["chunks"] == embedder.embedded_count - before
    assert pipeline.index().failed == []
    assert pipeline.status()["roots"] == [str(corpus.resolve())]
    assert_consistent(other)
