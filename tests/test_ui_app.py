"""The launched web chat driven by gradio_client: `dispatch-qa serve` as `make run` starts it, plus an
in-process launch with a login. Real model, real Chroma, real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import (
    FOLLOW_UP,
    OFF_TOPIC_FR,
    REPO,
    SEED_QUESTION,
    article,
    cli,
    free_port,
    launch_in_thread,
    private_copy,
    wait_http,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # pandas notices from inside gradio
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`dispatch-qa serve` on an empty data dir: it indexes seeds/ first, then serves."""
    data = tmp_path_factory.mktemp("served") / "data"
    port = free_port()
    log = tmp_path_factory.mktemp("served-log") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("DISPATCH_QA_AUTH", None)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--data-dir", str(data),
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, proc)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(log.read_text()) from None
    from gradio_client import Client

    yield {"url": url, "data": data, "client": Client(url, verbose=False), "proc": proc, "log": log}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_serve_indexed_the_seeds_and_reports_status(served):
    status = served["client"].predict(api_name="/index_status")
    assert status["documents"] == 2 and status["chunks"] > 0
    assert status["store_mode"] == "embedded" and status["last_indexed_at"]
    assert "indexing" in served["log"].read_text()


def test_only_the_named_endpoints_are_public(served):
    api = served["client"].view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/ask", "/index_status", "/documents"}
    assert not api["unnamed_endpoints"]


def test_ask_returns_the_core_json_answer(served):
    answer = served["client"].predict(SEED_QUESTION, api_name="/ask")
    assert answer["schema_version"] == 1 and not answer["abstained"] and answer["citations"]
    assert set(answer) >= {"question", "answer", "citations", "related", "timings_ms", "sentences", "language"}
    for c in answer["citations"]:
        text = Path(c["source_path"]).read_text(encoding="utf-8")  # seeds are .txt: the text is the file
        assert text[c["start"]:c["end"]] == c["quote"]
        assert f"[{c['marker']}]" in answer["answer"]


def test_ask_with_history_and_filters(served):
    client = served["client"]
    follow = client.predict(FOLLOW_UP, history=[SEED_QUESTION], api_name="/ask")
    assert not follow["abstained"] and "Kremlin" in " ".join(c["quote"] for c in follow["citations"])
    dated = client.predict(SEED_QUESTION, date_from="2025-03", date_to="2025-03", api_name="/ask")
    assert {c["doc_id"] for c in dated["citations"] + dated["related"]} == {"000_fb850ab909d3a4ae.txt"}
    off = client.predict(OFF_TOPIC_FR, api_name="/ask")
    assert off["abstained"] and off["citations"] == [] and off["related"]
    assert all(r["marker"] is None for r in off["related"])
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="date_from"):
        client.predict(SEED_QUESTION, date_from="hier", api_name="/ask")


def test_store_and_library_are_not_served(served):
    data = served["data"].resolve()
    library = data / "library"
    library.mkdir(exist_ok=True)
    (library / "secret.txt").write_text("x", encoding="utf-8")
    for path in (data / "records.sqlite", library / "secret.txt", REPO / "pyproject.toml"):
        url = f"{served['url']}gradio_api/file={path}"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=10)
        assert err.value.code in (403, 404), url


def test_cli_indexing_is_seen_by_the_running_chat(served, tmp_path):
    client = served["client"]
    before = client.predict(api_name="/index_status")
    folder = tmp_path / "fresh"
    article(folder / "lune.txt", "Des tomates cerises récoltées sur la Lune",
            "Les astronautes de la mission Artémis ont récolté trois kilogrammes de tomates cerises "
            "dans une serre installée près du pôle sud lunaire, a annoncé la NASA.")
    result = cli("index", str(folder), data_dir=served["data"])  # another process, while the chat is up
    assert "1 added" in result.stdout, result.stderr
    after = client.predict(api_name="/index_status")
    assert after["documents"] == before["documents"] + 1 and after["generation"] > before["generation"]
    answer = client.predict("Combien de kilogrammes de tomates les astronautes ont-ils récoltés ?", api_name="/ask")
    assert [c["doc_id"] for c in answer["citations"]][:1] == ["lune.txt"]
    assert "lune.txt" in {d["doc_id"] for d in client.predict(api_name="/documents")}
    cli("remove", "lune.txt", data_dir=served["data"])
    gone = client.predict("Combien de kilogrammes de tomates les astronautes ont-ils récoltés ?", api_name="/ask")
    assert "lune.txt" not in {c["doc_id"] for c in gone["citations"] + gone["related"]}


def test_public_bind_without_login_is_refused(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("DISPATCH_QA_AUTH", None)
    result = subprocess.run([sys.executable, "-m", "assistant", "serve", "--host", "0.0.0.0", "--data-dir",
                             str(tmp_path / "d"), "--port", str(free_port())], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "without a login" in result.stderr


@pytest.fixture(scope="module")
def with_login(tmp_path_factory, seeds_settings, embedder):
    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "login"), auth="ana:s3cret",
                             queue_concurrency=3, queue_max_size=7)
    pipeline = open_pipeline(settings, embedder)
    demo, url = launch_in_thread(pipeline, settings)
    yield demo, url, settings
    demo.close()
    pipeline.close()


def test_login_is_required_when_auth_is_set(with_login):
    from gradio_client import Client

    demo, url, _ = with_login
    with pytest.raises(Exception):  # noqa: B017 - the client refuses to connect without the login
        Client(url, verbose=False).predict(api_name="/index_status")
    client = Client(url, auth=("ana", "s3cret"), verbose=False)
    assert client.predict(api_name="/index_status")["documents"] == 2


def test_queue_limits_come_from_settings(with_login):
    demo, _, _ = with_login
    assert demo._queue.max_size == 7
    assert demo._queue.default_concurrency_limit == 3
    assert demo.config["analytics_enabled"] is False
