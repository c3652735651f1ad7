"""`dispatch-qa eval`: the metric arithmetic on hand-made cases, and a small real run on dev data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA, make_settings, open_pipeline

from assistant.evaluate import EvalRun, run_eval
from assistant.metrics import answer_hit, normalize_answer, percentile, recall_at, reciprocal_rank, summarize
from assistant.questions import EvalError, Question, detect_format, drop_title, load_questions, sample

PIAF_QUESTIONS = SHARED_DATA / "piaf_dev_questions.jsonl"
PIAF_PASSAGES = SHARED_DATA / "piaf_passages.jsonl"
HEADLINES = SHARED_DATA / "orangesum_headline_dev_queries.jsonl"
NEWS = SHARED_DATA / "orangesum_fr_news_20k.jsonl"


# -- metrics -----------------------------------------------------------------------------------

def test_normalize_answer_strips_accents_case_markers_and_spaces():
    assert normalize_answer("Le  Général  [1] Jorant [2]") == "le general jorant"
    assert normalize_answer("l’Élysée") == "l'elysee"


def test_answer_hit_compares_normalized_text_and_abstention_misses():
    assert answer_hit("Il est arrivé d'Angleterre [1].", ["angleterre"], abstained=False)
    assert answer_hit("Le général Michel Jorant [1]", ["le general Michel JORANT"], abstained=False)
    assert not answer_hit("Il est arrivé d'Angleterre.", ["Angleterre"], abstained=True)
    assert not answer_hit("Il est arrivé d'Irlande.", ["Angleterre"], abstained=False)
    assert not answer_hit("anything", [""], abstained=False)  # an empty gold answer matches nothing


def test_recall_and_reciprocal_rank():
    ranked = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
    assert recall_at(ranked, {"a"}, 1) == 1.0
    assert recall_at(ranked, {"c"}, 1) == 0.0
    assert recall_at(ranked, {"e"}, 5) == 1.0 and recall_at(ranked, {"f"}, 5) == 0.0
    assert recall_at(ranked, {"k"}, 10) == 0.0
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3, abs=1e-4)
    assert reciprocal_rank(ranked, {"c", "b"}) == pytest.approx(1 / 2)  # the first relevant counts
    assert reciprocal_rank(ranked, {"k"}, 10) == 0.0  # beyond the cut-off


def test_percentile_interpolates_like_numpy():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


def _row(qid, ranked, answer="", abstained=False, citations=(), latency=10.0):
    return {"id": qid, "retrieved_doc_ids": list(ranked), "answer": answer, "abstained": abstained,
            "citations": list(citations), "latency_ms": latency}


def test_summarize_on_a_hand_made_case():
    questions = {
        "q1": Question("q1", "?", ("Paris",), ("d1",)),
        "q2": Question("q2", "?", ("Lyon",), ("d2",)),
        "q3": Question("q3", "?", ("Nice",), ("d3",)),
    }
    rows = [
        _row("q1", ["d1", "d9"], "À paris [1]", citations=["d1", "d9"], latency=10),
        _row("q2", ["d9", "d8", "d7", "d6", "d2"], "Marseille [1]", citations=["d9"], latency=20),
        _row("q3", ["d9"], "abstention", abstained=True, latency=30),
    ]
    report = summarize(rows, questions, indexed={"d1", "d2", "d3", "d6", "d7", "d8", "d9"})
    assert report["n"] == 3 and report["n_gold_indexed"] == 3
    assert report["recall_at_1"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["recall_at_5"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["recall_at_10"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["mrr_at_10"] == pytest.approx(round((1 + 1 / 5 + 0) / 3, 4))
    assert report["answer_hit"] == pytest.approx(1 / 3, abs=1e-4)
    # Micro-averaged over the 3 citations of answered questions: one is from a gold document.
    assert report["citation_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["abstention_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["latency_ms_p50"] == 20 and report["latency_ms_p95"] == pytest.approx(29.0)


def test_summarize_leaves_retrieval_null_when_no_gold_document_is_indexed():
    questions = {"q1": Question("q1", "?", ("Paris",), ("elsewhere",))}
    report = summarize([_row("q1", ["d1"], "abstention", abstained=True)], questions, indexed={"d1"})
    for key in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "answer_hit", "citation_precision"):
        assert report[key] is None, key
    assert report["abstention_rate"] == 1.0


def test_summarize_without_answers_or_gold_documents():
    questions = {"q1": Question("q1", "?")}
    report = summarize([_row("q1", ["d1"], "x [1]", citations=["d1"])], questions, indexed={"d1"})
    assert report["answer_hit"] is None and report["recall_at_5"] is None and report["citation_precision"] is None


# -- loading -----------------------------------------------------------------------------------

def test_formats_are_detected_from_the_records():
    assert detect_format({"question": "?", "context_id": "p1", "answers": ["a"]}) == "piaf"
    assert detect_format({"query": "titre", "relevant_doc_ids": ["d1"]}) == "known-item"
    assert detect_format({"question": "?"}) == "generic"
    with pytest.raises(EvalError):
        detect_format({"text": "no question here"})


def test_real_files_load_in_their_format():
    piaf = load_questions(PIAF_QUESTIONS)
    assert piaf.format == "piaf" and not piaf.drop_titles
    first = piaf.questions[0]
    assert first.relevant_doc_ids and first.answers
    headlines = load_questions(HEADLINES)
    assert headlines.format == "known-item" and headlines.drop_titles
    assert headlines.questions[0].relevant_doc_ids == ("orangesum-38",)


def test_bad_questions_file_is_named_with_line_and_reason(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "Qui ?"}\n{"question": \n', encoding="utf-8")
    with pytest.raises(EvalError, match=r"q\.jsonl:2: malformed JSON"):
        load_questions(bad)
    bad.write_text('{"question": "Qui ?", "answers": 3}\n', encoding="utf-8")
    with pytest.raises(EvalError, match=r"q\.jsonl:1: `answers` must be a list"):
        load_questions(bad)
    bad.write_text('{"question": "Qui ?", "id": "a"}\n{"question": "Quoi ?", "id": "a"}\n', encoding="utf-8")
    with pytest.raises(EvalError, match="duplicate question id 'a'"):
        load_questions(bad)
    with pytest.raises(EvalError, match="no such questions file"):
        load_questions(tmp_path / "missing.jsonl")


def test_sample_is_reproducible_and_limited():
    qs = [Question(f"q{i}", "?") for i in range(50)]
    assert sample(qs, 5, None) == qs[:5]
    assert sample(qs, 5, 7) == sample(qs, 5, 7) != qs[:5]
    assert len(sample(qs, None, 3)) == 50


def test_drop_title_recomputes_the_content_hash():
    from index.dispatch import Dispatch, dispatch_hash

    d = Dispatch(doc_id="x", title="Un titre", date=None, source=None, language="fr", text="Un texte.",
                 source_path="/x.jsonl")
    d = drop_title(d)
    assert d.title is None and d.content_hash == dispatch_hash(d)


# -- a real run on a slice of the dev data -------------------------------------------------------

def _slice(path: Path, ids: set[str], key: str = "id") -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record[key] in ids:
                out.append(record)
    return out


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_eval_on_a_piaf_slice_reports_every_metric(tmp_path, embedder):
    questions = [json.loads(line) for line in PIAF_QUESTIONS.read_text(encoding="utf-8").splitlines()[:6]]
    gold = {q["context_id"] for q in questions}
    passages = _slice(PIAF_PASSAGES, gold | {"piaf-a010-p00", "piaf-a020-p00", "piaf-a030-p00"})
    qfile = _write_jsonl(tmp_path / "q.jsonl", questions)
    corpus = _write_jsonl(tmp_path / "passages.jsonl", passages)
    settings = make_settings(tmp_path / "data")
    pipeline = open_pipeline(settings, embedder)
    report = run_eval(EvalRun(qfile, corpus, progress=False), settings, log=lambda m: None, pipeline=pipeline)
    assert report["format"] == "piaf" and report["n"] == 6 and report["n_gold_indexed"] == 6
    for key in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "answer_hit", "abstention_rate"):
        assert 0.0 <= report[key] <= 1.0, key
    assert report["recall_at_1"] <= report["recall_at_5"] <= report["recall_at_10"]
    assert report["recall_at_10"] > 0  # a tiny corpus holding every gold passage
    assert report["latency_ms_p50"] > 0 and report["latency_ms_p95"] >= report["latency_ms_p50"]
    rows = report["per_question"]
    assert [r["id"] for r in rows] == [q["id"] for q in questions]
    for row in rows:
        assert len(row["retrieved_doc_ids"]) == len(set(row["retrieved_doc_ids"]))
        assert set(row) >= {"id", "retrieved_doc_ids", "answer", "abstained", "citations"}
        if row["abstained"]:
            assert row["citations"] == []
    # The figures are recomputable from the rows.
    by_id = {q["id"]: Question(q["id"], q["question"], tuple(q["answers"]), (q["context_id"],)) for q in questions}
    again = summarize(rows, by_id, indexed={p["id"] for p in passages})
    assert again["recall_at_5"] == report["recall_at_5"] and again["answer_hit"] == report["answer_hit"]
    # A second run reuses the index: nothing re-embedded.
    before = pipeline.embedder.embedded_count
    run_eval(EvalRun(qfile, corpus, modes=("keyword",), progress=False), settings, log=lambda m: None,
             pipeline=pipeline)
    assert pipeline.embedder.embedded_count == before  # unchanged corpus, and keyword mode embeds no query
    pipeline.close()


def test_known_item_eval_indexes_without_titles_and_compares_modes(tmp_path):
    from assistant.cli import main

    queries = [json.loads(line) for line in HEADLINES.read_text(encoding="utf-8").splitlines()[:3]]
    wanted = {d for q in queries for d in q["relevant_doc_ids"]}
    articles = _slice(NEWS, wanted)
    assert len(articles) == 3
    qfile = _write_jsonl(tmp_path / "h.jsonl", queries)
    corpus = _write_jsonl(tmp_path / "news.jsonl", articles)
    out = tmp_path / "report.json"
    code = main(["eval", "--questions", str(qfile), "--corpus", str(corpus), "--data-dir", str(tmp_path / "d"),
                 "--compare", "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["format"] == "known-item" and report["titles_indexed"] is False
    assert set(report["compare"]) == {"dense", "keyword", "hybrid"}
    assert report["answer_hit"] is None  # headlines carry no answers
    for mode, r in report["compare"].items():
        assert r["n"] == 3 and 0.0 <= r["recall_at_10"] <= 1.0, mode
    from assistant.pipeline import Pipeline

    pipeline = Pipeline(make_settings(tmp_path / "d"))
    assert all(d.title is None for d in pipeline.records.documents())
    pipeline.close()


def test_eval_refuses_a_data_dir_holding_other_documents(tmp_path, seeds_settings, capsys):
    from assistant.cli import main

    qfile = _write_jsonl(tmp_path / "q.jsonl", [{"question": "Qui ?"}])
    corpus = _write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "text": "Un texte."}])
    code = main(["eval", "--questions", str(qfile), "--corpus", str(corpus), "--data-dir",
                 str(seeds_settings.data_dir)])
    assert code == 1
    assert "data dir of its own" in capsys.readouterr().err


def test_summarize_with_full_citation_rows_matches_doc_id_rows_and_scores_highlights():
    questions = {"q1": Question("q1", "?", ("Paris",), ("d1",)), "q2": Question("q2", "?", ("Lyon",), ("d2",))}

    def cit(doc_id, quote, start, hl=None):
        return {"doc_id": doc_id, "quote": quote, "start": start, "end": start + len(quote), "highlight": hl}

    full = [_row("q1", ["d1", "d9"], "Il est à Paris. [1] Ailleurs. [2]",
                 citations=[cit("d1", "Il est à Paris.", 10, {"start": 19, "end": 24}), cit("d9", "Ailleurs.", 0)]),
            _row("q2", ["d2"], "Lyon. [1]", citations=[cit("d2", "Lyon.", 0)])]
    bare = [dict(r, citations=[c["doc_id"] for c in r["citations"]]) for r in full]
    a, b = summarize(full, questions, {"d1", "d2", "d9"}), summarize(bare, questions, {"d1", "d2", "d9"})
    for key in ("recall_at_5", "answer_hit", "citation_precision", "dangling_rate", "sentences_per_answer"):
        assert a[key] == b[key], key
    assert a["citation_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert a["highlight_em"] == 0.5 and a["highlight_f1"] == 0.5  # "Paris" exact; q2 has no highlight
    assert a["dangling_rate"] == 0.5 and a["sentences_per_answer"] == 1.5
    assert b["highlight_f1"] == 0.0
