"""Server mode against a real `chroma run` started here (records stay local, vectors on the server)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    REPO,
    SEED_DATED,
    SEED_UNDATED,
    assert_consistent,
    cited,
    copy_seeds,
    free_port,
    make_settings,
    subprocess_env,
    wait_until_answers,
)

pytestmark = pytest.mark.slow  # the real model and Chroma

CHROMA = REPO / ".venv" / "bin" / "chroma"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    binary = shutil.which("chroma") if not CHROMA.exists() else str(CHROMA)
    if binary is None:
        pytest.skip("the `chroma` CLI is not installed")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen([binary, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "db")],
                            stdout=log, stderr=subprocess.STDOUT, env=subprocess_env({"ANONYMIZED_TELEMETRY": "False"}))
    try:
        wait_until_answers(proc, f"http://127.0.0.1:{port}/api/v2/heartbeat", 180, "chroma run",
                           folder / "server.log")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def server_settings(tmp_path: Path, port: int, collection: str):
    return make_settings(tmp_path / "data", store_mode="server", chroma_port=port, collection=collection)


def test_index_ask_remove_rebuild_on_a_server(chroma_server, tmp_path, pipelines, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    settings = server_settings(tmp_path, chroma_server, "seeds_a")
    pipeline = pipelines(settings)
    report = pipeline.index([corpus])
    assert sorted(report.added) == [SEED_DATED, SEED_UNDATED] and report.failed == []
    assert not settings.chroma_path.exists(), "server mode must not create a local Chroma store"
    state = assert_consistent(settings)
    assert len(state.chroma_chunk_ids) == report.chunks_total

    answer = pipeline.ask("Qui a appelé les soldats ukrainiens à déposer les armes ?", mode="dense")
    assert answer.retrieved_doc_ids and answer.retrieved_doc_ids[0] == SEED_DATED
    answer = pipeline.ask("Qui a appelé les soldats ukrainiens à déposer les armes ?")
    assert any("Poutine" in c.quote for c in answer.citations)

    leavitt = "Qui est la secrétaire de presse de la Maison Blanche ?"
    assert SEED_UNDATED in cited(pipeline.ask(leavitt))
    assert pipeline.remove(SEED_UNDATED)
    assert_consistent(settings)
    for mode in ("hybrid", "dense"):
        assert SEED_UNDATED not in pipeline.ask(leavitt, mode=mode).retrieved_doc_ids
    report = pipeline.index()
    assert report.added == [] and report.chunks_embedded == 0 and SEED_UNDATED not in cited(pipeline.ask(leavitt))

    before = embedder.embedded_count
    report = pipeline.index(rebuild=True)
    assert "rebuilt" in report.repaired and report.chunks_embedded == 0 and embedder.embedded_count == before
    assert_consistent(settings)

    # Date filters run on the server's metadata too.
    from assistant.pipeline import QueryFilters

    answer = pipeline.ask("Koursk", filters=QueryFilters(date_to="2024-12-31"), mode="dense")
    assert answer.retrieved_doc_ids == []
    answer = pipeline.ask("Koursk", filters=QueryFilters(date_from="2025-03-01"), mode="dense")
    assert answer.retrieved_doc_ids == [SEED_DATED]


def test_emptied_server_collection_is_restored_from_the_records(chroma_server, tmp_path, pipelines, embedder):
    """A server that lost the collection (restarted empty, or someone deleted it) opens as a valid,
    empty collection: the next open refills it from the records without embedding."""
    import chromadb

    settings = server_settings(tmp_path, chroma_server, "seeds_b")
    pipelines(settings).index([copy_seeds(tmp_path / "corpus")])
    ids = set(assert_consistent(settings).record_chunk_ids)
    chromadb.HttpClient(host="127.0.0.1", port=chroma_server).delete_collection("seeds_b")

    fresh = pipelines(settings)
    embedder.forget_queries()  # the session's model may have met this question before
    before = embedder.embedded_count
    answer = fresh.ask("Qui a appelé les soldats ukrainiens à déposer les armes ?", mode="dense")
    assert embedder.embedded_count - before == 1  # the question, no chunk
    assert answer.retrieved_doc_ids[:1] == [SEED_DATED]
    assert set(assert_consistent(settings).chroma_chunk_ids) == ids
    assert "repaired" in (fresh.records.get_meta("last_repair") or "")


def test_server_mode_through_the_cli(chroma_server, cli, tmp_path):
    data = tmp_path / "data"
    flags = ["--data-dir", data, "--store-mode", "server", "--chroma-port", chroma_server, "--collection", "seeds_c"]
    result = cli("index", copy_seeds(tmp_path / "corpus"), *flags, "--json")
    assert result.code == 0 and result.json["summary"]["added"] == 2
    status = cli("status", *flags, "--json").json
    assert status["store_location"] == f"http://127.0.0.1:{chroma_server}" and status["documents"] == 2
    answer = cli("ask", "Où se tenait la réunion du G7 ?", *flags, "--json").json
    assert any("Canada" in c["quote"] for c in answer["citations"])


def test_unreachable_server_is_a_clear_error(cli, seeds_settings):
    port = free_port()  # nothing listens there
    result = cli("ask", "Qui ?", "--data-dir", seeds_settings.data_dir, "--store-mode", "server",
                 "--chroma-port", port, "--json")
    assert result.code == 1
    message = result.json["error"]
    assert f"127.0.0.1:{port}" in message and "chroma run" in message
