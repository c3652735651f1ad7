"""`index --workers N`: the same chunks and vectors as one process, the flag checked, no process left
behind (after a run, Ctrl-C, an error in the run, kill -9), and a stopped run completed by the next.

Real parts throughout: the bundled model in each encoder process, Chroma, the records, the CLI in a
child process for the signals. Encoder batches of 1-2 texts, so a few dispatches give every
worker several tasks (the pool starts at 4 batches per worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import (
    REPO,
    assert_consistent,
    make_settings,
    orangesum_articles,
    subprocess_env,
    write_jsonl,
)

# A child `index` run whose commits hold 8+ chunks each, so it commits several times.
RUNNER = ("import sys, index.indexer as indexer; indexer.BATCH_CHUNKS = 8; "
          "from assistant.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("encoder-corpus")
    write_jsonl(folder / "news.jsonl", orangesum_articles(10))
    return folder


def stored(settings: Any) -> tuple[list[str], dict[str, np.ndarray]]:
    """The chunk ids of the records, and each chunk's vector as Chroma holds it."""
    from index.stores import ChromaConfig, VectorStore, release_clients

    db = sqlite3.connect(f"file:{settings.records_path}?mode=ro", uri=True)
    try:
        ids = sorted(r[0] for r in db.execute("SELECT chunk_id FROM chunks"))
    finally:
        db.close()
    release_clients()
    store = VectorStore(ChromaConfig(mode="embedded", path=settings.chroma_path, host="", port=0,
                                     collection=settings.collection))
    got = store._collection.get(ids=ids, include=["embeddings"])
    return ids, {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}


def encoder_children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and that run the encoder worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == pid and b"index.encoder_pool" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is dead; only its parent has not reaped it yet
        if (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
            return False
    return True


def documents_committed(data: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{data / 'records.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_two_workers_store_the_chunks_and_vectors_of_one(corpus, pipelines, tmp_path):
    seen_pids: set[int] = set()
    one = make_settings(tmp_path / "one", embedding_batch_size=2)
    two = make_settings(tmp_path / "two", embedding_batch_size=2, index_workers=2)
    first = pipelines(one)
    report_one = first.index([corpus])
    pipeline = pipelines(two)
    pipeline.embedder = first.embedder  # the same model with batches of 2: loaded once in this process
    report_two = pipeline.index([corpus], progress=lambda *_: seen_pids.update(pipeline.indexer.encoder.pids))

    assert (report_one.encoder_processes, report_two.encoder_processes) == (1, 2)
    assert report_two.chunks_embedded == report_one.chunks_embedded > 16
    assert len(seen_pids) == 2, "the pool did not run during the sync"
    assert not [p for p in seen_pids if alive(p)], "an encoder process outlived the run"
    ids_one, vectors_one = stored(one)
    ids_two, vectors_two = stored(two)
    assert ids_two == ids_one
    worst = max(float(np.abs(vectors_one[i] - vectors_two[i]).max()) for i in ids_one)
    assert worst < 1e-5, f"vectors differ by {worst}"
    assert_consistent(two)


def test_a_sync_with_little_to_embed_starts_no_worker(corpus, pipelines, tmp_path):
    """Below one task per worker the model is not loaded N more times: this process encodes."""
    settings = make_settings(tmp_path / "data", index_workers=2)  # batches of 16: 128 chunks to start
    pipeline = pipelines(settings)
    seen: list[list[int]] = []
    report = pipeline.index([corpus], progress=lambda *_: seen.append(pipeline.indexer.encoder.pids))
    assert report.chunks_embedded > 0 and report.encoder_processes == 1
    assert seen and all(p == [] for p in seen)
    again = pipeline.index([corpus])
    assert again.chunks_embedded == 0 and again.encoder_processes == 0


def test_an_error_during_the_run_stops_the_workers_and_the_next_run_completes(corpus, pipelines, tmp_path,
                                                                             monkeypatch):
    import index.indexer as indexer

    monkeypatch.setattr(indexer, "BATCH_CHUNKS", 8)
    settings = make_settings(tmp_path / "data", embedding_batch_size=1, index_workers=2)
    pipeline = pipelines(settings)
    pids: list[int] = []

    def interrupt(done: int, total: int, stage: str) -> None:
        pids.extend(pipeline.indexer.encoder.pids)
        raise KeyboardInterrupt  # what Ctrl-C raises in the writer, after its first commit

    with pytest.raises(KeyboardInterrupt):
        pipeline.index([corpus], progress=interrupt)
    assert len(pids) == 2 and not [p for p in pids if alive(p)]
    committed = documents_committed(settings.data_dir)
    assert 0 < committed < 10
    report = pipelines(make_settings(tmp_path / "data")).index([corpus])
    assert report.unchanged == committed and len(report.added) == 10 - committed
    assert_consistent(settings)


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_a_stopped_cli_run_leaves_no_worker_and_loses_nothing(how, corpus, pipelines, tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "index", str(corpus), "--data-dir", str(data), "--workers", "2",
         "--embedding-batch-size", "1", "--json"],
        cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)  # its own process group: Ctrl-C reaches the group, as in a terminal
    try:
        deadline = time.monotonic() + 600
        workers: list[int] = []
        while len(workers) < 2 or documents_committed(data) == 0:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the run never started its encoders and committed"
            workers = encoder_children(proc.pid)
            time.sleep(0.05)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.kill()
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if how == "ctrl-c":
        assert code == 1 and "interrupted" in err, err
        assert not [p for p in workers if alive(p)], "Ctrl-C left an encoder process behind"
    else:
        end = time.monotonic() + 30  # the kernel kills them (PR_SET_PDEATHSIG): no task finished first
        while [p for p in workers if alive(p)] and time.monotonic() < end:
            time.sleep(0.05)
        assert not [p for p in workers if alive(p)], "kill -9 left an encoder process behind"
    committed = documents_committed(data)
    assert committed > 0
    report = pipelines(make_settings(data)).index([corpus])
    assert report.unchanged == committed and len(report.added) == 10 - committed
    assert_consistent(make_settings(data))


def test_workers_must_be_at_least_one(cli, tmp_path):
    for value in ("0", "-2", "two"):
        result = cli("index", "--workers", value, "--data-dir", tmp_path / "data", "--json", REPO / "seeds")
        assert result.code == 2 and "--workers" in result.json["error"], result.json
    result = cli("index", "--index-workers", "0", "--data-dir", tmp_path / "data", "--json", REPO / "seeds")
    assert result.code == 1 and "index_workers" in result.json["error"]
    assert not (tmp_path / "data" / "records.sqlite").exists()


def test_a_gpu_asked_for_and_absent_is_named():
    import torch

    from index.embedding import Embedder, EmbeddingError, resolve_device

    assert resolve_device("auto", "int8-all") == "cpu"  # CPU-only backends stay on the CPU
    assert resolve_device("auto", "torch") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(EmbeddingError, match="embedding_backend torch"):
        resolve_device("cuda", "onnx")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(EmbeddingError, match="embedding_device is 'cuda:1', but torch sees no CUDA GPU"):
        Embedder("bundled:multilingual-e5-small", "torch", 16, 0, device="cuda:1").embed(["texte"])


def test_embedding_device_is_checked_with_the_settings():
    from assistant.settings import SettingsError, load_settings

    assert load_settings(env={"DISPATCH_QA_EMBEDDING_DEVICE": "cuda:0"}, cwd=Path("/")).embedding_device == "cuda:0"
    with pytest.raises(SettingsError, match="embedding_device must be auto, cpu, cuda, cuda:N or mps"):
        load_settings(env={"DISPATCH_QA_EMBEDDING_DEVICE": "gpu"}, cwd=Path("/"))


def test_threads_are_split_between_the_workers():
    from index.encoder_pool import threads_per_worker

    assert threads_per_worker(8, 2) == 4
    assert threads_per_worker(2, 4) == 1  # never zero
    assert threads_per_worker(0, 1) >= 1
