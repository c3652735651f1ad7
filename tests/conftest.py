"""Shared test plumbing: one real embedding model per session, one indexed copy of the seeds,
and two ways to run the CLI (in-process for speed, subprocess where the process boundary matters).

Everything here is real: the bundled sentence-transformers model, Chroma on disk (or a real
`chroma run` server), SQLite records. Nothing is faked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SEED_DATED = "000_fb850ab909d3a4ae.txt"     # "date 2025-03" header
SEED_UNDATED = "004_da38df29cfe89a6a.txt"
SHARED_DATA = REPO.parent / "shared" / "data"
ORANGESUM = SHARED_DATA / "orangesum_fr_news_20k.jsonl"
CONSOLE_SCRIPT = REPO / ".venv" / "bin" / "dispatch-qa"
SUBPROCESS_TIMEOUT = 900  # seconds; generous because the machine is shared

# The model is bundled; nothing in the suite may reach the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# -- settings and pipelines --------------------------------------------------------------------

def make_settings(data_dir: Path, **changes: Any) -> Any:
    """Settings for a private data dir; a short lock timeout so a stuck test fails instead of hanging."""
    from assistant.settings import Settings

    return Settings(data_dir=Path(data_dir), lock_timeout=changes.pop("lock_timeout", 10.0), **changes)


def open_pipeline(settings: Any, embedder: Any) -> Any:
    """A Pipeline sharing the session's loaded model when it is the same model (saves a load per test)."""
    from assistant.pipeline import Pipeline

    pipeline = Pipeline(settings)
    if pipeline.embedder.identity == embedder.identity and pipeline.embedder.batch_size == embedder.batch_size:
        pipeline.embedder = embedder
    return pipeline


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The model (and backend) the default settings use, loaded once."""
    from assistant.settings import Settings
    from index.embedding import Embedder

    s = Settings()
    model = Embedder(s.embedding_model, s.embedding_backend, s.embedding_batch_size, s.embedding_threads)
    _ = model.model  # load once, up front
    return model


@pytest.fixture
def pipelines(embedder: Any) -> Iterator[Callable[..., Any]]:
    """Factory: pipelines(settings) -> Pipeline; all closed at teardown."""
    opened: list[Any] = []

    def factory(settings: Any) -> Any:
        pipeline = open_pipeline(settings, embedder)
        opened.append(pipeline)
        return pipeline

    yield factory
    for pipeline in opened:
        pipeline.close()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DISPATCH_QA_* from the developer's shell and no dispatch-qa.toml from the repo leak in."""
    for key in list(os.environ):
        if key.startswith("DISPATCH_QA_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


# -- the seeds, indexed once per session ---------------------------------------------------------

@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    """A data dir holding the two seeds, for tests that only read."""
    settings = make_settings(tmp_path_factory.mktemp("seeds-index") / "data")
    pipeline = open_pipeline(settings, embedder)
    report = pipeline.index([SEEDS])
    assert report.failed == [] and sorted(report.added) == [SEED_DATED, SEED_UNDATED]
    pipeline.close()
    return settings


@pytest.fixture(scope="session")
def seeds_pipeline(seeds_settings: Any, embedder: Any) -> Iterator[Any]:
    pipeline = open_pipeline(seeds_settings, embedder)
    yield pipeline
    pipeline.close()


def copy_seeds(dest: Path) -> Path:
    """A private, writable copy of seeds/ (tests that modify or delete files)."""
    shutil.copytree(SEEDS, dest, copy_function=shutil.copyfile)  # the seeds are read-only; copies are not
    return dest


def orangesum_articles(n: int, skip: int = 0) -> list[dict[str, Any]]:
    """The first n articles (after skip) of the shared OrangeSum file; read in place, never copied into the repo."""
    if not ORANGESUM.is_file():
        pytest.skip(f"{ORANGESUM} is not available")
    out: list[dict[str, Any]] = []
    with ORANGESUM.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if len(out) >= n:
                break
            out.append(json.loads(line))
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# -- consistency of the three stores -------------------------------------------------------------

@dataclass
class IndexState:
    record_chunk_ids: list[str]
    chroma_chunk_ids: list[str]
    keyword_chunk_ids: list[str]
    keyword_generation: int | None
    generation: int
    chroma_generation: str | None
    documents: dict[str, str]  # doc_id -> content_hash


def read_state(settings: Any) -> IndexState:
    """What is on disk right now, read without the project's own reconcile logic."""
    from index.stores import ChromaConfig, VectorStore, release_clients

    db = sqlite3.connect(f"file:{settings.records_path}?mode=ro", uri=True, timeout=60)
    try:
        chunk_ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks")]
        docs = dict(db.execute("SELECT doc_id, content_hash FROM documents").fetchall())
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()
    release_clients()  # a cached embedded client would not see another process's writes
    store = VectorStore(ChromaConfig(mode=settings.store_mode, path=settings.chroma_path, host=settings.chroma_host,
                                     port=settings.chroma_port, collection=settings.collection))
    chroma_ids: list[str] = []
    offset = 0
    while True:
        got = store._collection.get(include=[], limit=1000, offset=offset)["ids"]
        chroma_ids += got
        if len(got) < 1000:
            break
        offset += 1000
    keyword_ids: list[str] = []
    keyword_generation = None
    keyword_meta = settings.data_dir / "keyword" / "keyword.json"
    if keyword_meta.is_file():
        from index import keyword_store

        data = json.loads(keyword_meta.read_text(encoding="utf-8"))
        postings = keyword_store.open_on_disk(settings.data_dir / "keyword", create=False)
        keyword_ids = keyword_store.stored_ids(postings["chunks"]) if postings else []
        keyword_generation = int(data["generation"])
    return IndexState(record_chunk_ids=chunk_ids, chroma_chunk_ids=chroma_ids, keyword_chunk_ids=keyword_ids,
                      keyword_generation=keyword_generation, generation=int(meta.get("generation", 0)),
                      chroma_generation=meta.get("chroma_generation"), documents=docs)


def assert_consistent(settings: Any) -> IndexState:
    """Records, Chroma and the keyword index hold exactly the same chunks, with no duplicate or orphan."""
    state = read_state(settings)
    records = state.record_chunk_ids
    assert len(records) == len(set(records)), "duplicate chunk ids in the records"
    assert len(state.chroma_chunk_ids) == len(set(state.chroma_chunk_ids)), "duplicate chunk ids in Chroma"
    assert len(state.keyword_chunk_ids) == len(set(state.keyword_chunk_ids)), "duplicate ids in the keyword index"
    assert set(state.chroma_chunk_ids) == set(records), (
        f"Chroma differs from the records: {len(set(state.chroma_chunk_ids) - set(records))} orphans, "
        f"{len(set(records) - set(state.chroma_chunk_ids))} missing")
    assert set(state.keyword_chunk_ids) == set(records), "keyword index differs from the records"
    assert state.keyword_generation == state.generation, "keyword index is stale"
    assert state.chroma_generation == str(state.generation), "Chroma is not marked in step"
    db = sqlite3.connect(f"file:{settings.records_path}?mode=ro", uri=True)
    try:
        orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)").fetchone()[0]
        no_vector = db.execute(
            "SELECT COUNT(*) FROM chunks WHERE embed_hash NOT IN (SELECT embed_hash FROM vectors)").fetchone()[0]
        unused = db.execute(
            "SELECT COUNT(*) FROM vectors WHERE embed_hash NOT IN (SELECT embed_hash FROM chunks)").fetchone()[0]
        bad_counts = db.execute(
            "SELECT COUNT(*) FROM documents d WHERE n_chunks != (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id)"
        ).fetchone()[0]
        # Every signature has its 42 band keys in the band table, and no band outlives its signature.
        bands = db.execute("SELECT COUNT(*) FROM version_bands").fetchone()[0]
        signed = db.execute("SELECT COUNT(*) FROM signatures WHERE length(signature) = 512").fetchone()[0]
        stray_bands = db.execute(
            "SELECT COUNT(*) FROM version_bands WHERE sig NOT IN (SELECT rowid FROM signatures)").fetchone()[0]
    finally:
        db.close()
    assert (orphans, no_vector, unused, bad_counts) == (0, 0, 0, 0), \
        f"orphan chunks {orphans}, chunks without vector {no_vector}, unused vectors {unused}, bad n_chunks {bad_counts}"
    assert (bands, stray_bands) == (42 * signed, 0), f"{bands} band keys for {signed} signatures, {stray_bands} stray"
    return state


# -- the CLI -----------------------------------------------------------------------------------

@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """stdout as exactly one JSON object (fails if there is anything else on stdout)."""
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, embedder: Any) -> Iterator[Callable[..., CliResult]]:
    """cli("ask", "...", "--data-dir", d) -> CliResult: assistant.cli.main in this process, same model."""
    import assistant.pipeline as pipeline_module
    from assistant.cli import main

    opened: list[Any] = []

    def shared_model_pipeline(settings: Any) -> Any:
        pipeline = open_pipeline(settings, embedder)
        opened.append(pipeline)
        return pipeline

    monkeypatch.setattr(pipeline_module, "open_pipeline", shared_model_pipeline)

    def run(*argv: Any) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    for pipeline in opened:
        pipeline.close()


def cli_command() -> list[str]:
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT)]
    return [sys.executable, "-m", "assistant"]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_QA_")}
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra or {})
    return env


def run_cli(*argv: Any, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = SUBPROCESS_TIMEOUT) -> CliResult:
    """The real console script in a child process."""
    proc = subprocess.run(cli_command() + [str(a) for a in argv], capture_output=True, text=True,
                          env=subprocess_env(env), cwd=str(cwd or REPO), timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(proc: subprocess.Popen, url: str, timeout: float, name: str, log: Path) -> None:
    """Poll `url` until the server started as `proc` answers 200; fail with its log otherwise."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name} did not answer {url} within {timeout:g} s: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)


def cited(answer: Any) -> set[str]:
    return {c.doc_id for c in answer.citations}
