"""kill -9 in the middle of indexing, then run again: the index converges to what one clean run
builds (same chunk ids in the records, Chroma and the keyword index; no duplicate, no orphan),
and work committed before the kill is not embedded again."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    REPO,
    assert_consistent,
    make_settings,
    orangesum_articles,
    read_state,
    subprocess_env,
    write_jsonl,
)

pytestmark = pytest.mark.slow  # the real model and Chroma

# Small batches so a modest corpus crosses many commit points (each batch: embed -> records -> Chroma).
BATCH = 8
RUNNER = (f"import sys, index.indexer as indexer; indexer.BATCH_CHUNKS = {BATCH}; "
          "from assistant.cli import main; sys.exit(main(sys.argv[1:]))")
RUN_TIMEOUT = 900


def build_corpus(folder: Path) -> Path:
    """16 OrangeSum articles: half in one JSONL file, half as .txt files."""
    articles = orangesum_articles(16)
    write_jsonl(folder / "feed.jsonl", articles[:8])
    for a in articles[8:]:
        (folder / f"{a['id']}.txt").write_text(f"title: {a['title']}\ndate: {a['date']}\n\n{a['text']}\n",
                                              encoding="utf-8")
    return folder


def records_counts(data: Path) -> tuple[int, int, int]:
    """(documents, chunks, generation) as committed right now; (0, 0, 0) before the file exists."""
    path = data / "records.sqlite"
    if not path.exists():
        return (0, 0, 0)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # schema not created yet
        return (0, 0, 0)
    return int(docs), int(chunks), int(row[0]) if row else 0


def records_self_consistent(data: Path) -> None:
    """What a kill can never break: every committed document has exactly its chunks, each with a vector."""
    db = sqlite3.connect(f"file:{data / 'records.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        bad = db.execute("SELECT COUNT(*) FROM documents d WHERE n_chunks != "
                         "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id)").fetchone()[0]
        orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)").fetchone()[0]
        no_vector = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE embed_hash NOT IN (SELECT embed_hash FROM vectors)").fetchone()[0]
        # Version signatures and links are written with their document: none missing, none dangling.
        unsigned = db.execute(
            "SELECT COUNT(*) FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM signatures)").fetchone()[0]
        dangling = db.execute(
            "SELECT COUNT(*) FROM version_links WHERE doc_a NOT IN (SELECT doc_id FROM documents) "
            "OR doc_b NOT IN (SELECT doc_id FROM documents)").fetchone()[0]
    finally:
        db.close()
    assert (bad, orphans, no_vector, unsigned, dangling) == (0, 0, 0, 0, 0)


def kill_when(corpus: Path, data: Path, condition: Callable[[subprocess.Popen], bool]) -> bool:
    """Start `index` in a child process, SIGKILL it once condition holds; True if it was still running."""
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, "index", str(corpus), "--data-dir", str(data),
                             "--lock-timeout", "5"], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while proc.poll() is None and not condition(proc):
            if time.monotonic() > deadline:
                raise AssertionError("the indexing run neither reached the kill point nor finished")
            time.sleep(0.05)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if not alive:
            assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")
        return alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def holds_lock(data: Path) -> Callable[[subprocess.Popen], bool]:
    def check(proc: subprocess.Popen) -> bool:
        try:
            return (data / "index.lock").read_text().strip() == str(proc.pid)
        except OSError:
            return False
    return check


def chunks_at_least(data: Path, n: int) -> Callable[[subprocess.Popen], bool]:
    return lambda proc: records_counts(data)[1] >= n


def generation_above(data: Path, generation: int) -> Callable[[subprocess.Popen], bool]:
    return lambda proc: records_counts(data)[2] > generation


def expected_chunk_ids(pipeline, corpus: Path) -> set[str]:
    """The chunk ids a sync derives from the files (chunking only: no embedding needed)."""
    from index.documents import iter_files, load_file

    root = corpus.resolve()
    ids: set[str] = set()
    for path in iter_files(root):
        for dispatch in load_file(path, root, pipeline.settings.max_file_bytes).dispatches:
            ids |= {p.record.chunk_id for p in pipeline.indexer._prepare(dispatch)}
    return ids


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, embedder):
    """One uninterrupted run over the corpus: the state every interrupted history must end in."""
    from conftest import open_pipeline

    base = tmp_path_factory.mktemp("crash")
    corpus = build_corpus(base / "corpus")
    settings = make_settings(base / "clean")
    pipeline = open_pipeline(settings, embedder)
    report = pipeline.index([corpus])
    assert report.failed == [] and len(report.added) == 16
    state = assert_consistent(settings)
    assert set(state.record_chunk_ids) == expected_chunk_ids(pipeline, corpus)
    pipeline.close()
    return corpus, state


def test_kill_9_mid_index_then_rerun_converges(clean_run, tmp_path, pipelines, embedder):
    corpus, clean = clean_run
    total = len(clean.record_chunk_ids)
    assert total >= 5 * BATCH, "the corpus must span many commit batches"
    data = tmp_path / "data"

    # Four kills at different stages, each run picking up where the last one stopped.
    assert kill_when(corpus, data, holds_lock(data)), "killed right after taking the writer lock"
    assert kill_when(corpus, data, chunks_at_least(data, 1)), "killed after the first committed batch"
    records_self_consistent(data)
    assert kill_when(corpus, data, chunks_at_least(data, total // 2)), "killed half way"
    records_self_consistent(data)
    kill_when(corpus, data, lambda proc: records_counts(data)[0] == 16)  # late: last Chroma write or the finish
    records_self_consistent(data)
    committed = records_counts(data)[1]
    assert 0 < committed

    settings = make_settings(data)
    pipeline = pipelines(settings)
    before = embedder.embedded_count
    report = pipeline.index([corpus])
    assert report.failed == []
    assert report.chunks_embedded <= total - committed, "chunks committed before the kills were embedded again"
    assert embedder.embedded_count - before == report.chunks_embedded
    state = assert_consistent(settings)
    assert sorted(state.record_chunk_ids) == sorted(clean.record_chunk_ids)
    assert state.documents == clean.documents

    again = pipeline.index([corpus])
    assert again.chunks_embedded == 0 and again.unchanged == 16 and again.repaired is None

    # A kill during an update run: old chunks are already replaced in the records, not yet in Chroma.
    articles = orangesum_articles(20)
    markers = ["xylofrane", "bramquisse", "tolvérane", "pustramelle"]  # words no article contains
    changed = [{**a, "text": a["text"] + f"\n\nParagraphe ajouté lors de la mise à jour : {m}."}
               for a, m in zip(articles[:4], markers)]
    write_jsonl(corpus / "feed.jsonl", changed + articles[4:8] + articles[16:20])
    (corpus / f"{articles[8]['id']}.txt").unlink()
    generation = records_counts(data)[2]
    pipeline.close()
    killed = kill_when(corpus, data, generation_above(data, generation))
    records_self_consistent(data)
    if killed:
        assert read_state(settings).chroma_generation != str(records_counts(data)[2])

    pipeline = pipelines(settings)
    report = pipeline.index([corpus])
    assert report.failed == []
    state = assert_consistent(settings)
    assert set(state.record_chunk_ids) == expected_chunk_ids(pipeline, corpus)
    assert len(state.documents) == 16 - 1 + 4
    for article, marker in zip(articles[:4], markers):
        assert pipeline.ask(marker, mode="keyword").retrieved_doc_ids == [article["id"]]
