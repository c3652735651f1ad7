"""Derived stores (keyword index, Chroma) damaged or behind the records: detected at open and rebuilt
from the records, never a traceback; `--json` prints exactly one object on every failure path."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SEED_DATED, SEED_UNDATED, assert_consistent, copy_seeds, make_settings, read_state

from index.locking import writer_lock

pytestmark = pytest.mark.slow  # the real model and Chroma

QUESTION = "Qui a appelé les soldats ukrainiens à déposer les armes ?"


def _truncate(path, size):
    with open(path, "r+b") as fh:
        fh.truncate(size)


def _drop_field(path, name):
    meta = json.loads(path.read_text(encoding="utf-8"))
    del meta[name]
    path.write_text(json.dumps(meta), encoding="utf-8")


DAMAGE = {
    "keyword segment truncated": lambda d: [_truncate(f, 10) for f in (d / "keyword" / "chunks").glob("*.idx")],
    "keyword meta.json deleted": lambda d: (d / "keyword" / "docs" / "meta.json").unlink(),
    "keyword.json field missing": lambda d: _drop_field(d / "keyword" / "keyword.json", "files"),
    "keyword folder deleted": lambda d: shutil.rmtree(d / "keyword"),
    "chroma.sqlite3 truncated": lambda d: _truncate(d / "chroma" / "chroma.sqlite3", 1000),
    "chroma folder replaced by a file": lambda d: (shutil.rmtree(d / "chroma"), (d / "chroma").write_text("x")),
    "chroma segment files garbage": lambda d: [f.write_bytes(b"\x00garbage" * 10) for f in (d / "chroma").rglob("*.bin")],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", [["ask", QUESTION], ["index"], ["index", "--rebuild"]])
def test_damaged_derived_files_are_rebuilt_from_the_records(damage, command, cli, tmp_path, seeds_settings):
    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    ids = set(read_state(make_settings(data)).record_chunk_ids)
    DAMAGE[damage](data)
    result = cli(*command, "--data-dir", data, "--json")
    assert result.code == 0, result.out + result.err
    out = result.json
    if command[0] == "ask":
        assert SEED_DATED in {c["doc_id"] for c in out["citations"]}
    else:
        assert out["unchanged"] == 2 and out["chunks_embedded"] == 0
    state = assert_consistent(make_settings(data))
    assert set(state.chroma_chunk_ids) == ids


def test_an_unexpected_error_is_one_json_object_and_the_traceback_goes_to_stderr(cli, tmp_path, monkeypatch):
    from assistant.pipeline import Pipeline

    def boom(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(Pipeline, "status", boom)
    result = cli("status", "--data-dir", tmp_path / "data", "--json")
    assert result.code == 1
    assert result.json == {"error": "unexpected error: RuntimeError: boom"}
    assert "Traceback" in result.err and "Traceback" not in result.out
    plain = cli("status", "--data-dir", tmp_path / "data")
    assert plain.code == 1 and plain.out == "" and "error: unexpected error: RuntimeError: boom" in plain.err


def test_a_usage_error_with_json_is_one_json_object(cli):
    result = cli("ask", "--json", "--top-k")
    assert result.code == 2
    assert "--top-k" in result.json["error"] and "usage:" in result.err


def _interrupted_update(pipelines, settings, corpus, monkeypatch):
    """Index the corpus, then change a file and let the next run die after committing the records,
    before Chroma is updated (what `kill -9` there leaves)."""
    from index.stores import VectorStore

    pipelines(settings).index([corpus])
    before = set(read_state(settings).record_chunk_ids)
    text = (corpus / SEED_UNDATED).read_text(encoding="utf-8")
    (corpus / SEED_UNDATED).write_text(text.replace("Trump", "Truman"), encoding="utf-8")

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(VectorStore, "upsert", killed)
        m.setattr(VectorStore, "delete", killed)
        with pytest.raises(KeyboardInterrupt):
            pipelines(settings).index([corpus])
    state = read_state(settings)
    assert set(state.chroma_chunk_ids) == before != set(state.record_chunk_ids)  # orphans, missing chunks
    return state


def test_ask_after_an_interrupted_run_brings_the_store_in_step(tmp_path, pipelines, monkeypatch, embedder):
    settings = make_settings(tmp_path / "data")
    corpus = copy_seeds(tmp_path / "corpus")
    _interrupted_update(pipelines, settings, corpus, monkeypatch)
    embedder.forget_queries()  # the session's model may have met this question before
    before = embedder.embedded_count
    answer = pipelines(settings).ask("Que demande Truman ?", mode="dense")
    assert embedder.embedded_count - before == 1  # the question only
    assert SEED_UNDATED in answer.retrieved_doc_ids
    assert_consistent(settings)  # no orphan left in Chroma, nothing missing
    report = pipelines(settings).index([corpus])
    assert report.chunks_embedded == 0 and report.unchanged == 2


def test_while_a_writer_runs_the_store_is_left_alone_and_orphans_never_served(tmp_path, pipelines, monkeypatch):
    settings = make_settings(tmp_path / "data")
    corpus = copy_seeds(tmp_path / "corpus")
    state = _interrupted_update(pipelines, settings, corpus, monkeypatch)
    orphans = set(state.chroma_chunk_ids) - set(state.record_chunk_ids)
    with writer_lock(settings.data_dir / "index.lock", 1):
        pipeline = pipelines(settings)
        retriever = pipeline.retriever()
        hits = retriever.retrieve("Que demande Trump ?", 20, mode="dense")
    assert hits and not {h.chunk_id for h in hits} & orphans
    assert set(read_state(settings).chroma_chunk_ids) == set(state.chroma_chunk_ids)  # untouched


def test_a_store_from_another_generation_is_caught_up(tmp_path, pipelines):
    """A Chroma folder copied back from before a change (marked in step in the records) is detected
    by the generation the collection itself carries."""
    settings = make_settings(tmp_path / "data")
    corpus = copy_seeds(tmp_path / "corpus")
    pipelines(settings).index([corpus])
    old = tmp_path / "chroma-old"
    shutil.copytree(settings.chroma_path, old)
    text = (corpus / SEED_UNDATED).read_text(encoding="utf-8")
    (corpus / SEED_UNDATED).write_text(text.replace("Trump", "Truman"), encoding="utf-8")
    pipelines(settings).index([corpus])
    from index.stores import release_clients

    release_clients()
    shutil.rmtree(settings.chroma_path)
    shutil.copytree(old, settings.chroma_path)
    assert pipelines(settings).ask("Que demande Truman ?").retrieved_doc_ids
    assert_consistent(settings)


def test_an_error_that_is_not_damage_never_wipes_the_store(tmp_path, seeds_settings, monkeypatch, cli):
    import sqlite3

    from index.stores import VectorStore

    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    files = {p: p.stat().st_mtime_ns for p in (data / "chroma").rglob("*")}

    def locked(config):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(VectorStore, "open_checked", classmethod(lambda cls, config: locked(config)))
    result = cli("ask", QUESTION, "--data-dir", data, "--json")
    assert result.code == 1 and "database is locked" in result.json["error"]
    assert {p: p.stat().st_mtime_ns for p in (data / "chroma").rglob("*")} == files


def test_a_store_that_opens_but_lost_its_vectors_is_rebuilt(tmp_path, seeds_settings, cli):
    """Damage that opens cleanly (the collection answers, with wrong vectors) is caught by the probe
    at open: the first recorded chunk's own vector must find it."""
    import numpy as np

    from index.records import Records
    from index.stores import ChromaConfig, VectorStore, release_clients

    data = tmp_path / "data"
    shutil.copytree(seeds_settings.data_dir, data)
    settings = make_settings(data)
    records = Records(settings.records_path)
    first = next(records.iter_chunks(batch=1))[0]
    wanted = records.vectors([first.embed_hash])[first.embed_hash]
    ids = sorted(records.chunk_ids())
    records.close()
    config = ChromaConfig("embedded", settings.chroma_path, "", 0, settings.collection)
    store = VectorStore(config)
    noise = np.random.default_rng(0).normal(size=(len(ids), len(wanted))).astype(np.float32)
    store._collection.update(ids=ids, embeddings=noise)  # every vector replaced, ids and stamps kept
    release_clients()

    result = cli("ask", QUESTION, "--data-dir", data, "--json")
    assert result.code == 0 and SEED_DATED in {c["doc_id"] for c in result.json["citations"]}
    release_clients()
    got = VectorStore(config)._collection.get(ids=[first.chunk_id], include=["embeddings"])["embeddings"][0]
    assert np.allclose(got, wanted, atol=1e-5)
    assert_consistent(settings)
    report = cli("index", "--data-dir", data, "--json").json
    assert report["chunks_embedded"] == 0
