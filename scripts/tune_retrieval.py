"""Grid-search the fusion weights on an index that `dispatch-qa eval` built, on two halves of the questions.

Each question's candidates are gathered once through the real Retriever (dense hits from Chroma,
BM25 for the whole index, proximity), with every candidate's raw dense and keyword scores; the
fusion is then replayed for each weight without re-embedding. A weight is worth keeping only if
it wins on both halves (`random.Random(0)` shuffle, as in docs/benchmarks.md).

    python scripts/tune_retrieval.py --data-dir /tmp/ev/piaf-e5 \
        --questions ../shared/data/piaf_dev_questions.jsonl [--candidate-k 50] [--titles-dropped]
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.metrics import reciprocal_rank  # noqa: E402
from assistant.questions import load_questions  # noqa: E402
from assistant.retrieval import is_question  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from index.french import analyze  # noqa: E402


def gather(data_dir: Path, questions: list, candidate_k: int, cache: Path, backend: str) -> list[dict]:
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    from assistant.pipeline import open_pipeline

    pipeline = open_pipeline(Settings(data_dir=data_dir, candidate_k=candidate_k, embedding_backend=backend))
    r = pipeline.retriever()
    out = []
    for n, q in enumerate(questions):
        terms = analyze(q.question)
        vec = r.embedder.embed_query(q.question)
        dense_hits = r.vectors.query(vec, candidate_k, None)
        all_kw = r.keyword.scores(terms)
        kw_hits = r.keyword.search(terms, candidate_k, None, all_kw)
        ids = list(dict.fromkeys([c for c, _ in kw_hits] + [c for c, _ in dense_hits]))
        chunks = r._chunks(ids)
        ids = [i for i in ids if i in chunks]
        dense = r._dense_scores(vec, [chunks[i] for i in ids], dict(dense_hits))
        kw = r._keyword_scores(terms, ids, dict(kw_hits), all_kw)
        near = r._proximity(terms, [chunks[i] for i in ids])
        out.append({"id": q.id, "question": q.question, "gold": set(q.relevant_doc_ids),
                    "answers": q.answers, "docs": [chunks[i].doc_id for i in ids],
                    "dense": np.array([dense.get(i, 0.0) for i in ids]), "kw": np.array([kw.get(i, 0.0) for i in ids]),
                    "near": np.array([near[i] for i in ids]), "is_question": is_question(q.question)})
        if n % 200 == 0:
            print(f"gathered {n}/{len(questions)}", file=sys.stderr)
    cache.write_bytes(pickle.dumps(out))
    return out


def fused(c: dict, w: float, proximity: float, dense_norm: str = "minmax") -> np.ndarray:
    kw, dn = c["kw"], c["dense"]
    kw_n = kw / kw.max() if len(kw) and kw.max() > 0 else kw
    if dense_norm == "minmax":
        lo, hi = (dn.min(), dn.max()) if len(dn) else (0, 1)
        dn_n = (dn - lo) / (hi - lo) if hi > lo else np.zeros_like(dn)
    else:  # raw cosine
        dn_n = dn
    return (1 - w) * kw_n + w * dn_n + proximity * c["near"]


def metrics(cands: list[dict], w_q: float, w_s: float, proximity: float) -> dict:
    r5, mrr, r1, r10 = [], [], [], []
    for c in cands:
        if not len(c["docs"]):
            r5.append(0), mrr.append(0), r1.append(0), r10.append(0)
            continue
        s = fused(c, w_q if c["is_question"] else w_s, proximity)
        order = np.lexsort((np.arange(len(s)), -s))
        ranked = list(dict.fromkeys(c["docs"][i] for i in order))
        r1.append(float(any(d in c["gold"] for d in ranked[:1])))
        r5.append(float(any(d in c["gold"] for d in ranked[:5])))
        r10.append(float(any(d in c["gold"] for d in ranked[:10])))
        mrr.append(reciprocal_rank(ranked, c["gold"], 10))
    return {"r1": np.mean(r1), "r5": np.mean(r5), "r10": np.mean(r10), "mrr": np.mean(mrr)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--candidate-k", type=int, default=50)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--embedding-backend", default="auto")
    ap.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0")
    ap.add_argument("--proximity", default="0,0.1,0.2")
    args = ap.parse_args()
    qs = load_questions(args.questions).questions
    if args.limit:
        qs = qs[:args.limit]
    cache = args.data_dir / f"tune-{args.questions.stem}-k{args.candidate_k}-{len(qs)}.pkl"
    cands = gather(args.data_dir, qs, args.candidate_k, cache, args.embedding_backend)
    order = list(range(len(cands)))
    random.Random(0).shuffle(order)
    halves = {"A": [cands[i] for i in order[:len(order) // 2]], "B": [cands[i] for i in order[len(order) // 2:]]}
    n_statements = sum(1 for c in cands if not c["is_question"])
    print(f"{len(cands)} questions ({n_statements} statements); candidate_k {args.candidate_k}")
    rows = []
    for p in [float(x) for x in args.proximity.split(",")]:
        for w in [float(x) for x in args.weights.split(",")]:
            row = {"w": w, "prox": p}
            for name, part in halves.items():
                m = metrics(part, w, w, p)
                row.update({f"{name}_{k}": round(float(v), 4) for k, v in m.items()})
            rows.append(row)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
