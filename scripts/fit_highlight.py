"""Fit the learned highlighter (assistant/highlight_weights.json) by logistic regression.

    dispatch-qa eval --data-dir D --questions ../shared/data/piaf_dev_questions.jsonl \
        --corpus ../shared/data/piaf_passages.jsonl --questions-limit 600 --seed 0 --out /tmp/report.json
    PYTHONPATH=. python scripts/fit_highlight.py --report /tmp/report.json \
        --questions ../shared/data/piaf_dev_questions.jsonl [--write]

The report's rows are in the eval's (seeded) order; the first half trains on every cited quote's
candidate spans (label: token F1 with a gold answer >= --min-f1), the second half is only scored:
highlight EM / F1 of the first citation, rule-based vs learned.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from assistant.highlight import WEIGHTS_PATH, highlight_span, rule_span
from assistant.metrics import span_exact_match, span_f1
from assistant.question_kind import question_type
from assistant.questions import load_questions
from assistant.span_features import candidate_spans


def scores(rows, questions, pick) -> tuple[float, float]:
    em = f1 = 0.0
    for row in rows:
        q = questions[row["id"]]
        if row["abstained"] or not row["citations"]:
            continue
        quote = row["citations"][0]["quote"]
        span = pick(q.question, question_type(q.question), quote)
        text = None if span is None else quote[span[0]:span[1]]
        em += span_exact_match(text, q.answers)
        f1 += span_f1(text, q.answers)
    n = len(rows) or 1
    return round(em / n, 4), round(f1 / n, 4)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--min-f1", type=float, default=0.5)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    questions = {q.id: q for q in load_questions(args.questions).questions}
    rows = json.loads(args.report.read_text(encoding="utf-8"))["per_question"]
    half = len(rows) // 2
    X, y = [], []
    for row in rows[:half]:
        q = questions[row["id"]]
        for c in [] if row["abstained"] else row["citations"]:
            for start, end, feats in candidate_spans(q.question, question_type(q.question), c["quote"]):
                X.append(feats)
                y.append(1 if span_f1(c["quote"][start:end], q.answers) >= args.min_f1 else 0)
    model = LogisticRegression(C=args.C, max_iter=5000).fit(np.array(X), np.array(y))
    weights = [round(float(w), 5) for w in model.coef_[0]]

    def learned(question, kind, quote):
        cands = candidate_spans(question, kind, quote)
        if not cands:
            return None
        best = max(cands, key=lambda c: sum(w * f for w, f in zip(weights, c[2])))
        return best[0], best[1]

    report = {"train_rows": half, "test_rows": len(rows) - half, "positives": int(sum(y)), "spans": len(y),
              "min_f1": args.min_f1, "C": args.C,
              "test_em_f1_rules": scores(rows[half:], questions, rule_span),
              "test_em_f1_learned": scores(rows[half:], questions, learned),
              "train_em_f1_rules": scores(rows[:half], questions, rule_span),
              "train_em_f1_learned": scores(rows[:half], questions, learned),
              "test_em_f1_current": scores(rows[half:], questions, highlight_span)}
    print(json.dumps(report, indent=1))
    if args.write:
        WEIGHTS_PATH.write_text(json.dumps({"min_f1": args.min_f1, "C": args.C, "train_rows": half,
                                            "weights": weights}) + "\n", encoding="utf-8")
        print(f"written {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
