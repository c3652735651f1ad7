"""The two kinds of evidence the answer weighs before abstaining, for every question of a set.

For each question: lexical evidence (IDF coverage of its words, as `answer.compose` computes it)
and the best passage's dense cosine. Run it on a set that should be answered (the seed questions,
PIAF asked of PIAF, the English sets) and on one that should abstain (PIAF asked of the seeds),
then pick thresholds that separate them:

    python scripts/abstention_scores.py --data-dir /tmp/ev/seeds --questions docs/seed_questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.pipeline import open_pipeline  # noqa: E402
from assistant.questions import load_questions  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    pipeline = open_pipeline(Settings(data_dir=args.data_dir))
    rows = []
    questions = load_questions(args.questions).questions[:args.limit]
    for q in questions:
        answer = pipeline.ask(q.question, generative=False)
        lexical, dense = answer.evidence
        rows.append({"id": q.id, "lexical": round(lexical, 4), "dense": round(dense, 4),
                     "retrieved": answer.retrieved_doc_ids[:5], "gold": list(q.relevant_doc_ids)})
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rows written to {args.out}")


if __name__ == "__main__":
    main()
