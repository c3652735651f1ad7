"""Several web workers on one index: a real `chroma run` server, two real `dispatch-qa serve`
processes on one data dir, and the CLI indexing while they serve. Real model, Chroma, HTTP."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, copy_seeds, free_port, run_cli, subprocess_env, wait_until_answers
from ui_fixtures import SEED_QUESTION, article

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).parent / "chroma"  # the venv running the tests
PICKUP_SECONDS = 10.0  # a worker answers from a newly indexed dispatch within this long
NEW_QUESTION = "Quel voilier géant a accosté au port de Brest ?"


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory):
    binary = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if binary is None:
        pytest.skip("the `chroma` CLI is not installed")
    folder = tmp_path_factory.mktemp("workers-chroma")
    port = free_port()
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen([binary, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "db")],
                            stdout=log, stderr=subprocess.STDOUT, env=subprocess_env({"ANONYMIZED_TELEMETRY": "False"}))
    try:
        wait_until_answers(proc, f"http://127.0.0.1:{port}/api/v2/heartbeat", 180, "chroma run", folder / "server.log")
        yield port
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_worker(data: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--no-seed", "--data-dir", str(data),
                                 "--port", str(port)], cwd=REPO, env=subprocess_env(env), stdout=out,
                                stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def ask(url: str, question: str) -> dict:
    body = json.dumps({"model": "dispatch-qa", "messages": [{"role": "user", "content": question}]}).encode()
    request = urllib.request.Request(url + "/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.loads(resp.read())


def cited(reply: dict) -> set[str]:
    return {Path(c["doc_id"]).name for c in reply["citations"]}


def test_two_workers_answer_from_a_dispatch_the_cli_indexes_while_they_serve(chroma_port, tmp_path, capsys):
    corpus = copy_seeds(tmp_path / "corpus")
    data = tmp_path / "data"
    env = {"DISPATCH_QA_STORE_MODE": "server", "DISPATCH_QA_CHROMA_PORT": str(chroma_port),
           "DISPATCH_QA_COLLECTION": "workers", "DISPATCH_QA_API_RATE_LIMIT": "0"}
    first = run_cli("index", corpus, "--data-dir", data, env=env)
    assert first.code == 0, first.stderr
    workers = [start_worker(data, env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        for i, (proc, url) in enumerate(workers):
            wait_until_answers(proc, url + "/v1/models", 300, f"worker {i}", tmp_path / f"worker{i}.log")
        assert all("brest.txt" not in cited(ask(url, NEW_QUESTION)) for _, url in workers)
        from index.locking import writer_lock

        with writer_lock(data / "index.lock", 0):  # serving workers hold no writer lock
            pass

        article(corpus / "brest.txt", "Un voilier géant de 120 mètres accoste au port de Brest",
                "Le Belem II, un voilier géant de 120 mètres, a accosté mardi au port de Brest, a annoncé la "
                "préfecture maritime de l'Atlantique. Le navire-école restera à quai jusqu'à dimanche.")
        indexing = subprocess.Popen([sys.executable, "-m", "assistant", "index", "--data-dir", str(data)], cwd=REPO,
                                    env=subprocess_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        answered_meanwhile = 0
        while indexing.poll() is None:  # the workers keep answering while the CLI writes
            for _, url in workers:
                assert cited(ask(url, SEED_QUESTION)), "a worker stopped answering during the indexing run"
                answered_meanwhile += 1
        out, err = indexing.communicate()
        assert indexing.returncode == 0 and "1 added" in err + out, err
        indexed_at = time.monotonic()

        pickup = {}
        for i, (_, url) in enumerate(workers):
            while "brest.txt" not in cited(ask(url, NEW_QUESTION)):
                assert time.monotonic() - indexed_at < PICKUP_SECONDS, f"worker {i} did not pick up the new dispatch"
                time.sleep(0.2)
            pickup[i] = round(time.monotonic() - indexed_at, 2)
        keyword = json.loads((data / "keyword" / "keyword.json").read_text(encoding="utf-8"))
        status = run_cli("status", "--json", "--data-dir", data, env=env)
        assert keyword["generation"] == status.json["generation"]  # saved by the writer
        with capsys.disabled():
            print(f"\nworkers answered {answered_meanwhile} questions during the run; new dispatch answered "
                  f"after {pickup} s")
    finally:
        for proc, _ in workers:
            stop(proc, signal.SIGINT)


def test_a_workers_library_actions_go_through_the_writer_lock_and_say_when_it_is_busy(seeds_settings, embedder,
                                                                                      tmp_path_factory):
    """Re-index and delete from a worker's Library tab wait for the one writer lock, then fail with
    a message naming the running writer instead of writing beside it."""
    import os

    from conftest import make_settings, open_pipeline
    from ui_fixtures import private_copy

    from index.locking import writer_lock
    from ui.app import ChatCallbacks

    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "workers-lock"), lock_timeout=0.5)
    pipeline = open_pipeline(settings, embedder)
    callbacks = ChatCallbacks(pipeline, settings)
    try:
        generation = pipeline.generation
        with writer_lock(settings.data_dir / "index.lock", 0):  # e.g. `dispatch-qa index` in another process
            reindexed = callbacks.reindex()
            deleted = callbacks.delete("000_fb850ab909d3a4ae.txt")
        assert "Indexing did not run" in reindexed and f"pid {os.getpid()}" in reindexed
        assert "Could not delete" in deleted and "another indexing run" in deleted
        assert pipeline.generation == generation and pipeline.document("000_fb850ab909d3a4ae.txt") is not None
        assert "Removed 000_fb850ab909d3a4ae.txt" in callbacks.delete("000_fb850ab909d3a4ae.txt")  # lock free
    finally:
        pipeline.close()
