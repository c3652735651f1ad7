"""Retrieval: query form, fusion weights, and the in-memory chunk table against SQLite."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant import retrieval
from assistant.retrieval import Retriever, is_question


@pytest.mark.parametrize("text", [
    "Qui a signé l'accord ?", "Quand le barrage a-t-il cédé", "Combien de morts", "Où se trouve Mayotte",
    "qu'a dit le ministre", "Comment réagit Paris ?", "Who signed the deal", "Le bilan est-il lourd ?",
])
def test_questions(text):
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "TVR cherche de nouveaux investisseurs", "Orages : l'Hérault en alerte orange", "cyclone Chido Mayotte",
    "Quelques jours après le séisme, l'aide arrive", "",
])
def test_statements_and_keywords(text):
    assert not is_question(text)


def test_fusion_weight_follows_the_query_form():
    fuse = Retriever._fuse
    ids = ["a", "b"]
    keyword = {"a": 1.0, "b": 0.5}
    dense = {"a": 0.1, "b": 0.9}
    by_keyword = fuse(None, ids, dense, keyword, 0.1)
    by_dense = fuse(None, ids, dense, keyword, 0.9)
    assert by_keyword["a"] > by_keyword["b"]
    assert by_dense["b"] > by_dense["a"]


def _retriever(pipeline, **fusion) -> Retriever:
    base = pipeline.retriever()
    return Retriever(base.records, base.vectors, base.keyword, base.embedder, replace(base.fusion, **fusion))


def test_statement_queries_use_their_own_dense_weight(seeds_pipeline):
    # Proximity off: what is left of the fused score is the weighted sum alone.
    retriever = _retriever(seeds_pipeline, dense_weight=1.0, dense_weight_statements=0.0, proximity_weight=0.0)
    statement = retriever.retrieve("Poutine appelle les soldats ukrainiens à déposer les armes à Koursk", 8)
    assert len(statement) > 1
    keyword_scores = [p.keyword for p in statement]
    assert keyword_scores == sorted(keyword_scores, reverse=True)
    assert statement[0].score == pytest.approx(1.0)  # keyword normalised by its top, weight 1
    question = retriever.retrieve("Poutine appelle-t-il les soldats ukrainiens à déposer les armes à Koursk ?", 8)
    dense_scores = [p.dense for p in question]
    assert dense_scores == sorted(dense_scores, reverse=True)
    assert [p.chunk_id for p in question] != [p.chunk_id for p in statement]


def test_english_questions_use_their_own_dense_weight(seeds_pipeline):
    retriever = _retriever(seeds_pipeline, dense_weight=0.0, dense_weight_statements=0.0, dense_weight_english=1.0,
                           proximity_weight=0.0)
    assert retriever.fusion_weight("Who did Trump send to Moscow?") == 1.0
    assert retriever.fusion_weight("Qui Trump a-t-il envoyé à Moscou ?") == 0.0
    english = retriever.retrieve("Who did Trump send to Moscow to meet Putin?", 8)
    dense_scores = [p.dense for p in english]
    assert dense_scores == sorted(dense_scores, reverse=True)  # ranked by the model alone
    texts = [seeds_pipeline.records.document(p.doc_id).text[p.start:p.end] for p in english[:3]]
    assert any("Witkoff" in t for t in texts)


def test_chunk_table_and_sqlite_give_the_same_passages(seeds_pipeline, monkeypatch):
    questions = ["Qui a appelé les soldats à déposer les armes ?", "Que dit Zelensky de Koursk ?",
                 "trêve productive Trump Witkoff"]
    in_memory = _retriever(seeds_pipeline)
    expected = [in_memory.retrieve(q, 5) for q in questions]
    assert in_memory._chunk_table  # the table was read
    monkeypatch.setattr(retrieval, "PRELOAD_MAX_CHUNKS", 0)
    from_sqlite = _retriever(seeds_pipeline)
    assert [from_sqlite.retrieve(q, 5) for q in questions] == expected
    assert from_sqlite._chunk_table == {}
