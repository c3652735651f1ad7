"""The OpenAI-compatible API of a real `dispatch-qa serve` on the seeds, driven by the real `openai`
package; and the API behind the chat's login, launched in-process. Real model, Chroma, HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import FOLLOW_UP, REPO, SEED_QUESTION, free_port, private_copy, serve_process

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

openai = pytest.importorskip("openai")

KEY = "test-key-0123456789"
RATE_LIMIT = 30  # per minute: more than the module's other requests, reached on purpose by the last test
DATED_SEED = "000_fb850ab909d3a4ae.txt"


@pytest.fixture(scope="module")
def server(seeds_settings, tmp_path_factory):
    """`dispatch-qa serve --api-key ...` on a private copy of the seeds index."""
    data = private_copy(seeds_settings, tmp_path_factory, "openai-served")
    log = tmp_path_factory.mktemp("openai-log") / "serve.log"
    yield from serve_process(data, log, DISPATCH_QA_API_KEY=KEY, DISPATCH_QA_API_RATE_LIMIT=str(RATE_LIMIT))


def client(url: str, key: str = KEY):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


def test_models_lists_dispatch_qa(server):
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["dispatch-qa"]
    assert client(server).models.retrieve("dispatch-qa").id == "dispatch-qa"


def test_a_completion_carries_the_answer_its_sources_and_the_citations(server):
    reply = client(server).chat.completions.create(
        model="dispatch-qa", messages=[{"role": "system", "content": "Answer briefly."},
                                       {"role": "user", "content": SEED_QUESTION}])
    content = reply.choices[0].message.content
    citations = reply.model_extra["citations"]
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.role == "assistant"
    assert citations and "[1]" in content.split("Sources :")[0]
    answer, sources = content.split("\n\nSources :\n\n")
    for c in citations:  # each citation listed with its marker and its exact quote (whitespace folded)
        assert f"[{c['marker']}] " in sources and " ".join(c["quote"].split()) in sources
        doc = (REPO / "seeds" / c["doc_id"]).read_text(encoding="utf-8")
        assert doc[c["start"]:c["end"]] == c["quote"]
    assert "Poutine" in answer


def test_streaming_sends_the_same_content_in_chunks_then_the_citations(server):
    api = client(server)
    stream = api.chat.completions.create(model="dispatch-qa", stream=True,
                                         messages=[{"role": "user", "content": SEED_QUESTION}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    whole = api.chat.completions.create(model="dispatch-qa", messages=[{"role": "user", "content": SEED_QUESTION}])
    assert len(chunks) > 5 and chunks[0].choices[0].delta.role == "assistant"
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == whole.model_extra["citations"]


def test_a_follow_up_reads_the_earlier_user_messages(server):
    api = client(server)
    first = api.chat.completions.create(model="dispatch-qa", messages=[{"role": "user", "content": SEED_QUESTION}])
    follow = api.chat.completions.create(model="dispatch-qa", messages=[
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP}])
    assert follow.model_extra["follow_up_of"] == SEED_QUESTION
    assert "Kremlin" in " ".join(c["quote"] for c in follow.model_extra["citations"])
    alone = api.chat.completions.create(model="dispatch-qa", messages=[{"role": "user", "content": FOLLOW_UP}])
    assert alone.model_extra["follow_up_of"] is None


def test_filters_limit_the_cited_dispatches(server):
    reply = client(server).chat.completions.create(
        model="dispatch-qa", messages=[{"role": "user", "content": SEED_QUESTION}],
        extra_body={"date_from": "2025-03", "date_to": "2025-03"})
    assert {c["doc_id"] for c in reply.model_extra["citations"]} == {DATED_SEED}


def test_a_bad_key_is_refused_in_the_openai_shape(server):
    for key in ("wrong-key", KEY[:-1], KEY + "0"):
        with pytest.raises(openai.AuthenticationError) as caught:
            client(server, key).chat.completions.create(model="dispatch-qa",
                                                        messages=[{"role": "user", "content": SEED_QUESTION}])
        assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_bad_requests_name_the_field(server):
    api = client(server)
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model="dispatch-qa", messages=[{"role": "user", "content": SEED_QUESTION}],
                                    extra_body={"date_from": "2025-13"})
    assert caught.value.param == "date_from" and "2025-13" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model="dispatch-qa", messages=[{"role": "assistant", "content": "Bonjour"}])
    assert caught.value.param == "messages"
    with pytest.raises(openai.NotFoundError) as caught:
        api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SEED_QUESTION}])
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.APIStatusError) as caught:
        api.chat.completions.create(model="dispatch-qa", messages=[{"role": "user", "content": "x" * 300_000}])
    assert caught.value.status_code == 413


def test_the_chat_guard_still_screens_the_api(server):
    """A page whose name was rebound to 127.0.0.1 (DNS rebinding) or another site's script cannot use it."""
    for headers, status in (({"Host": "evil.example"}, 400), ({"Origin": "http://evil.example"}, 403)):
        request = urllib.request.Request(server + "/v1/models", headers={"Authorization": f"Bearer {KEY}", **headers})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == status


def test_the_rate_limit_answers_429_with_retry_after(server):
    """Last in the module: it spends the minute's budget of 127.0.0.1."""
    api = client(server)
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(RATE_LIMIT + 1):
            api.models.list()
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.code == "rate_limit_exceeded"


def test_behind_the_chat_login_the_api_takes_its_key_not_the_cookie(seeds_settings, embedder, tmp_path_factory):
    """In-process launches with `auth`: with api_key the API answers its bearer token (no session
    cookie); without one it is closed rather than a way around the login."""
    from ui.app import build_app, launch_options, queue
    from ui.openai_api import mount

    data = private_copy(seeds_settings, tmp_path_factory, "openai-login")
    for api_key, expected in ((KEY, 200), ("", 401)):
        settings = make_settings(data, auth="reader:pw", api_key=api_key, port=free_port())
        pipeline = open_pipeline(settings, embedder)
        demo = queue(build_app(pipeline, settings), settings)
        try:
            demo.launch(prevent_thread_lock=True, quiet=True, **mount(launch_options(settings), pipeline, settings))
            request = urllib.request.Request(demo.local_url + "v1/models", headers={"Authorization": f"Bearer {KEY}"})
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
                assert "api_key" in exc.read().decode()
            assert status == expected
            with pytest.raises(urllib.error.HTTPError) as caught:  # the chat itself still wants the login
                urllib.request.urlopen(demo.local_url + "gradio_api/info", timeout=30)
            assert caught.value.code == 401
        finally:
            demo.close()
            pipeline.close()


def test_serve_refuses_a_non_loopback_bind_without_an_api_key(tmp_path):
    from conftest import run_cli

    result = run_cli("serve", "--host", "0.0.0.0", "--auth", "ana:s3cret", "--no-seed", "--port", str(free_port()),
                     "--data-dir", tmp_path / "data", timeout=300)
    assert result.code != 0
    assert "api_key" in result.err and "0.0.0.0" in result.err and "--api-key" in result.err
