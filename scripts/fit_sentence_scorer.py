"""Fit the answer's sentence weights (assistant/sentence_weights.json) by logistic regression.

    PYTHONPATH=. python scripts/fit_sentence_scorer.py --data-dir /tmp/ans/piaf \
        --questions ../shared/data/piaf_dev_questions.jsonl --seed 0 --limit 600 [--write]

The questions are shuffled by --seed and cut to --limit, as `dispatch-qa eval` does; the first half
trains (label: the sentence holds a gold answer), the second half is only scored: share of questions
whose top sentence, and whose top two, hold the answer, with the current weights and the fitted ones.
The data dir must already index the questions' corpus (run `dispatch-qa eval` on it once).
The weights are rescaled to the L1 norm of the hand-set ones, so the cross-lingual similarity term
keeps its share of the score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from assistant import answer as A
from assistant.metrics import normalize_answer
from assistant.pipeline import RANKING_POOL, contextual_query
from assistant.questions import load_questions, sample
from assistant.retrieval import documents_for, question_weights
from assistant.settings import load_settings
from index.french import analyze

WEIGHTS_PATH = Path(A.__file__).with_name("sentence_weights.json")


def question_candidates(pipeline, question: str) -> list[A.Candidate]:
    retriever = pipeline.retriever()
    query = contextual_query(question, [])
    passages = retriever.retrieve(query, max(5, RANKING_POOL), None, "hybrid")[:5]
    docs = documents_for(pipeline.records, passages)
    q_terms = list(dict.fromkeys(analyze(question)))
    weights = question_weights(retriever.keyword, q_terms)
    return A._candidates(question, q_terms, passages, docs, weights, with_features=True)


def holds(cand: A.Candidate, answers: tuple[str, ...]) -> bool:
    text = normalize_answer(cand.doc.text[cand.start:cand.end])
    return any(normalize_answer(g) and normalize_answer(g) in text for g in answers)


def hit_rates(rows, weights: dict[str, float]) -> tuple[float, float]:
    top1 = top2 = 0
    for cands, labels in rows:
        order = sorted(range(len(cands)), key=lambda i: -sum(weights[k] * v for k, v in cands[i].features.items()))
        top1 += any(labels[i] for i in order[:1])
        top2 += any(labels[i] for i in order[:2])
    n = len(rows) or 1
    return round(top1 / n, 4), round(top2 / n, 4)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from assistant.pipeline import open_pipeline

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--write", action="store_true", help=f"write {WEIGHTS_PATH.name}")
    args = ap.parse_args()
    pipeline = open_pipeline(load_settings(cli={"data_dir": args.data_dir}))
    questions = sample(load_questions(args.questions).questions, args.limit, args.seed)
    half = len(questions) // 2
    rows = []
    for q in questions:
        cands = question_candidates(pipeline, q.question)
        rows.append((cands, [holds(c, q.answers) for c in cands]))
    train, test = rows[:half], rows[half:]
    names = list(A.DEFAULT_SENTENCE_WEIGHTS)
    # Features centred within each question: the model learns what sets the answer apart from the
    # other candidates of the same question (a ranking), not what answerable questions look like.
    blocks = [np.array([[c.features[k] for k in names] for c in cands]) for cands, _ in train if cands]
    X = np.vstack([b - b.mean(axis=0) for b in blocks])
    y = np.array([lab for cands, labels in train if cands for lab in labels])
    model = LogisticRegression(C=args.C, max_iter=2000).fit(X, y)
    raw = dict(zip(names, model.coef_[0]))
    scale = sum(abs(v) for v in A.DEFAULT_SENTENCE_WEIGHTS.values()) / (sum(abs(v) for v in raw.values()) or 1.0)
    fitted = {k: round(float(v * scale), 4) for k, v in raw.items()}
    report = {"train_questions": half, "test_questions": len(test), "seed": args.seed, "limit": args.limit,
              "C": args.C, "weights": fitted,
              "test_top1_top2_hand": hit_rates(test, A.DEFAULT_SENTENCE_WEIGHTS),
              "test_top1_top2_fitted": hit_rates(test, fitted),
              "train_top1_top2_hand": hit_rates(train, A.DEFAULT_SENTENCE_WEIGHTS),
              "train_top1_top2_fitted": hit_rates(train, fitted)}
    print(json.dumps(report, indent=1))
    if args.write:
        WEIGHTS_PATH.write_text(json.dumps({k: report[k] for k in ("seed", "limit", "C", "train_questions",
                                                                   "weights")}, indent=1) + "\n")
        print(f"written {WEIGHTS_PATH}")
    pipeline.close()


if __name__ == "__main__":
    main()
