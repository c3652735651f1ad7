"""The OpenAI wire format's pure parts: request -> question, history and filters; answer -> content;
the per-client rate limit; the bind rule for api_key. Tiny inline inputs, no server."""

from __future__ import annotations

import pytest

from assistant.settings import Settings, SettingsError
from ui.openai_api import OpenAIApi, api_key_problem, mount
from ui.openai_format import (
    ApiError,
    answer_content,
    completion,
    content_pieces,
    parse_chat_request,
    stream_chunks,
)
from ui.rate_limit import RateLimiter


def body(*messages, **extra):
    return {"model": "dispatch-qa", "messages": [{"role": r, "content": c} for r, c in messages], **extra}


def refusal(request) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_chat_request(request)
    return caught.value


def test_the_last_user_message_is_the_question_and_earlier_ones_the_history():
    got = parse_chat_request(body(("system", "Be brief."), ("user", "Que demande Poutine ?"),
                                  ("assistant", "Il demande... [1]"), ("user", " Et le Kremlin ? ")))
    assert got.question == "Et le Kremlin ?"
    assert got.history == ["Que demande Poutine ?"]
    assert (got.date_from, got.date_to, got.sources, got.stream) == (None, None, (), False)


def test_text_parts_are_joined_and_filters_are_read():
    got = parse_chat_request({"model": "dispatch-qa", "stream": True, "date_from": "2025-03", "date_to": " 2025 ",
                              "sources": ["AFP", "AFP", " Reuters "],
                              "messages": [{"role": "user", "content": [{"type": "text", "text": "Qui ?"},
                                                                        {"type": "text", "text": "Poutine"}]}]})
    assert got.question == "Qui ?\nPoutine"
    assert (got.date_from, got.date_to, got.sources, got.stream) == ("2025-03", "2025", ("AFP", "Reuters"), True)


@pytest.mark.parametrize(("request_body", "status", "param"), [
    (body(("user", "Qui ?"), date_from="2025-13"), 400, "date_from"),
    (body(("user", "Qui ?"), date_to="hier"), 400, "date_to"),
    (body(("user", "Qui ?"), sources="AFP"), 400, "sources"),
    (body(("user", "Qui ?"), stream="yes"), 400, "stream"),
    (body(("user", "Qui ?"), ("assistant", "Poutine")), 400, "messages"),
    (body(("user", "   ")), 400, "messages"),
    ({"model": "dispatch-qa", "messages": []}, 400, "messages"),
    ({"model": "dispatch-qa", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
     "messages[0].content"),
    ({"messages": [{"role": "user", "content": "Qui ?"}]}, 400, "model"),
    (body(("user", "Qui ?"), model="gpt-4o"), 404, "model"),
])
def test_bad_requests_name_the_field(request_body, status, param):
    error = refusal(request_body)
    assert (error.status, error.param) == (status, param)
    assert set(error.body()["error"]) == {"message", "type", "param", "code"}


def test_a_bad_date_is_explained_in_the_question_language():
    assert "pas « 2025-13 »" in refusal(body(("user", "Que demande Poutine ?"), date_from="2025-13")).message
    assert "not '2025-13'" in refusal(body(("user", "What does Putin ask for?"), date_from="2025-13")).message
    assert refusal(body(("user", "Qui ?"), model="gpt-4o")).code == "model_not_found"


CITATION = {"marker": 1, "doc_id": "a.txt", "title": "Koursk :\n l'offensive", "date": "2025-03-14",
            "source": "AFP", "quote": "Poutine a\ndéclaré ceci.", "start": 10, "end": 32}


def test_the_content_is_the_answer_then_its_sources_in_the_answer_language():
    fr = {"answer": "Poutine a déclaré ceci. [1]", "language": "fr",
          "citations": [CITATION, {**CITATION, "marker": 2, "date": None, "source": None, "title": None}]}
    assert answer_content(fr) == ("Poutine a déclaré ceci. [1]\n\nSources :\n\n"
                                  "[1] Koursk : l'offensive — 2025-03-14 — AFP\n« Poutine a déclaré ceci. »\n\n"
                                  "[2] a.txt — non datée — agence non indiquée\n« Poutine a déclaré ceci. »")
    en = {**fr, "language": "en", "citations": [{**CITATION, "date": None, "source": None}]}
    assert "Sources:\n\n[1] Koursk : l'offensive — undated — agency not stated" in answer_content(en)
    abstained = {"answer": "Je ne trouve pas de réponse.", "language": "fr", "citations": []}
    assert answer_content(abstained) == "Je ne trouve pas de réponse."


def test_streamed_pieces_join_back_into_the_content_and_end_with_the_citations():
    text = "Poutine a déclaré ceci. [1]\n\nSources :\n\n[1] x — y — z\n« q »  "
    assert "".join(content_pieces(text)) == text and len(content_pieces(text)) > 3
    answer = {"answer": "Poutine a déclaré ceci. [1]", "language": "fr", "citations": [CITATION],
              "follow_up_of": "Que demande Poutine ?"}
    chunks = stream_chunks(answer, "chatcmpl-1", 7)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == answer_content(answer)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"] == [CITATION]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)
    whole = completion(answer, "chatcmpl-1", 7)
    assert whole["choices"][0]["message"] == {"role": "assistant", "content": answer_content(answer)}
    assert whole["citations"] == [CITATION] and whole["follow_up_of"] == "Que demande Poutine ?"


def test_the_rate_limit_counts_per_client_over_a_sliding_minute():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("a") == 0 and limiter.allow("a") == 0
    assert limiter.allow("a") == pytest.approx(60.0)
    assert limiter.allow("b") == 0  # another client has its own budget
    now[0] = 59.0
    assert limiter.allow("a") == pytest.approx(1.0)
    now[0] = 60.0
    assert limiter.allow("a") == 0
    assert RateLimiter(0).allow("a") == 0  # 0: no limit


def test_a_key_is_required_off_loopback_and_the_api_closes_behind_a_login_without_one():
    assert api_key_problem(Settings(host="127.0.0.1")) is None
    problem = api_key_problem(Settings(host="0.0.0.0", auth="u:p"))
    assert problem and "api_key" in problem and "0.0.0.0" in problem
    assert api_key_problem(Settings(host="0.0.0.0", auth="u:p", api_key="k")) is None
    with pytest.raises(SettingsError, match="api_key"):
        mount({}, None, Settings(host="192.168.1.20", auth="u:p"))
    assert OpenAIApi(None, Settings(auth="u:p")).key.closed
    assert not OpenAIApi(None, Settings(auth="u:p", api_key="k")).key.closed
    assert not OpenAIApi(None, Settings()).key.closed


def test_api_settings_are_checked():
    with pytest.raises(SettingsError, match="api_rate_limit"):
        Settings(api_rate_limit=-1)
    with pytest.raises(SettingsError, match="api_max_request_bytes"):
        Settings(api_max_request_bytes=10)
