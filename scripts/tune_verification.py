"""Tune the verifier's support threshold on cases built from the PIAF dev questions.

Each question gives a gold passage and its answer. Claims imitate what a model writes:
  - "sentence": the gold sentence holding the answer, cut to a window of words around it;
  - "qa": the question's words followed by the answer.
Each claim is checked against its gold passage (supported) and against another passage of the
same article (not supported: same subject, other facts). "swap" claims put another question's
answer into the gold sentence (not supported: the commonest invented detail, a wrong fact).

Articles are split in two halves: the weight and threshold are chosen on one and measured on
the other, so the reported precision/recall is not the tuning score.

    .venv/bin/python scripts/tune_verification.py [--data ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.verify import Evidence, Verifier, passage_evidence  # noqa: E402
from index.french import analyze  # noqa: E402

QUESTION_WORDS = re.compile(
    r"^\s*(qu'est-ce que|qu'est-ce qui|est-ce que|qui|que|quoi|quel(le)?s?|quand|où|ou|combien( de)?|comment|"
    r"pourquoi|lequel|laquelle|lesquel(le)?s|à quel(le)?s?|de quel(le)?s?|en quelle|dans quel(le)?s?|par qui|"
    r"pour qui|avec qui)\b\s*", re.IGNORECASE)


def load(data: Path) -> tuple[dict[str, dict], list[dict]]:
    passages = {}
    with (data / "piaf_passages.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            passages[p["id"]] = p
    with (data / "piaf_dev_questions.jsonl").open(encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh]
    return passages, questions


def answer_sentence(evidence: Evidence, start: int) -> str | None:
    for s in evidence.sentences:
        if s.start <= start < s.end:
            return s.text
    return None


def window(sentence: str, answer: str, words: int, rng: random.Random) -> str:
    at = sentence.find(answer)
    if at < 0:
        return sentence
    before = sentence[:at].split()
    after = sentence[at + len(answer):].split()
    left = rng.randint(words // 3, words)
    right = max(words - left, 3)
    return " ".join(before[-left:] + [answer] + after[:right]).strip(" ,;")


def qa_claim(question: str, answer: str) -> str:
    q = QUESTION_WORDS.sub("", question.strip().rstrip("?").strip())
    return f"{q[:1].upper()}{q[1:]} : {answer}."


def build_cases(passages: dict[str, dict], questions: list[dict], seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    by_title: dict[str, list[str]] = defaultdict(list)
    for pid, p in passages.items():
        by_title[p["title"]].append(pid)
    answers = [q["answers"][0] for q in questions if q["answers"] and q["answers"][0].strip()]
    cases = []
    for q in questions:
        gold = passages.get(q["context_id"])
        if gold is None or not q["answers"] or gold["text"] != q["context"]:
            continue
        answer, start = q["answers"][0].strip(), q["answer_starts"][0]
        if not answer:
            continue
        others = [pid for pid in by_title[gold["title"]] if pid != gold["id"]
                  and answer.lower() not in passages[pid]["text"].lower()]
        if not others:
            continue
        other = rng.choice(others)
        ev = passage_evidence(gold["text"], 0, len(gold["text"]), gold["title"])
        sentence = answer_sentence(ev, start)
        if sentence is None:
            continue
        claims = {"sentence": window(sentence, answer, rng.randint(8, 20), rng),
                  "qa": qa_claim(q["question"], answer)}
        for kind, claim in claims.items():
            case = {"q": q["id"], "question": q["question"], "title": gold["title"], "kind": kind, "claim": claim}
            cases.append({**case, "passage": gold["id"], "label": 1})
            cases.append({**case, "passage": other, "label": 0})
        wrong = rng.choice(answers)
        if wrong.lower() not in gold["text"].lower() and answer in claims["sentence"]:
            cases.append({"q": q["id"], "question": q["question"], "title": gold["title"], "kind": "swap", "label": 0,
                          "claim": claims["sentence"].replace(answer, wrong, 1), "passage": gold["id"]})
    return cases


def idf_weights(passages: dict[str, dict]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for p in passages.values():
        df.update(set(analyze(p["title"] + "\n" + p["text"])))
    n = len(passages)
    return {t: math.log1p((n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


def features(cases: list[dict], passages: dict[str, dict], embed, weights: dict[str, float]) -> np.ndarray:
    """(lexical, semantic) per case, computed once; the grid search only recombines them."""
    evidence = {pid: passage_evidence(p["text"], 0, len(p["text"]), p["title"])
                for pid, p in passages.items() if pid in {c["passage"] for c in cases}}
    Verifier(embed).prepare(list(evidence.values()))
    claim_vectors = embed([c["claim"] for c in cases])
    out = np.zeros((len(cases), 2))
    for i, case in enumerate(cases):
        verifier = Verifier(embed, term_weights=weights, question=case["question"])
        s = verifier.support(case["claim"], evidence[case["passage"]], claim_vectors[i])
        out[i] = (s.lexical, s.semantic)
    return out


def scores_at(feats: np.ndarray, w: float) -> np.ndarray:
    return w * feats[:, 0] + (1 - w) * feats[:, 1]


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    predicted = scores >= threshold
    tp = int((predicted & (labels == 1)).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int((labels == 1).sum()), 1)
    return precision, recall


def f_beta(p: float, r: float, beta: float = 0.5) -> float:
    # Precision counts double: a sentence wrongly shown as verified costs more than a flag too many.
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def tune(feats: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    best = (0.0, 0.0, 0.0)
    # Both signals keep a say: lexical alone measures within 0.01 of the best mix with the bundled
    # English MiniLM, but a multilingual embedding model would earn more of the weight.
    for w in LEXICAL_WEIGHTS:
        s = scores_at(feats, w)
        for t in THRESHOLDS:
            f = f_beta(*precision_recall(s, labels, t))
            if f > best[0]:
                best = (f, float(w), float(t))
    return best


THRESHOLDS = np.round(np.arange(0.3, 0.951, 0.025), 3)
LEXICAL_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def half(title: str) -> int:
    return hashlib.sha1(title.encode("utf-8")).digest()[0] % 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N questions")
    parser.add_argument("--threshold", type=float, help="also report this threshold (with --weight)")
    parser.add_argument("--weight", type=float, help="lexical weight for --threshold")
    args = parser.parse_args()

    from assistant.settings import Settings
    from index.embedding import Embedder

    passages, questions = load(args.data)
    if args.limit:
        questions = questions[:args.limit]
    cases = build_cases(passages, questions)
    defaults = Settings()  # the model and backend the app verifies with by default
    embedder = Embedder(defaults.embedding_model, defaults.embedding_backend, defaults.embedding_batch_size,
                        defaults.embedding_threads)
    feats = features(cases, passages, embedder.embed, idf_weights(passages))
    labels = np.asarray([c["label"] for c in cases])
    halves = np.asarray([half(c["title"]) for c in cases])
    kinds = np.asarray([c["kind"] for c in cases])
    print(f"{len(cases)} cases from {len(questions)} questions "
          f"({int(labels.sum())} supported, {int((labels == 0).sum())} not)")
    for tune_half in (0, 1):
        t_mask, m_mask = halves == tune_half, halves != tune_half
        f, w, t = tune(feats[t_mask], labels[t_mask])
        p, r = precision_recall(scores_at(feats[m_mask], w), labels[m_mask], t)
        print(f"tuned on half {tune_half}: lexical weight {w:.1f}, threshold {t:.3f} "
              f"(F0.5 {f:.3f}) -> other half precision {p:.3f} recall {r:.3f}")
    f, w, t = tune(feats, labels)
    print(f"all cases: lexical weight {w:.1f}, threshold {t:.3f} (F0.5 {f:.3f})")
    if args.threshold is not None:
        w, t = args.weight if args.weight is not None else w, args.threshold
    s = scores_at(feats, w)
    for name in ("sentence", "qa", "swap"):
        mask = kinds == name
        pos, neg = mask & (labels == 1), mask & (labels == 0)
        print(f"  at w={w:.1f} t={t:.3f} {name:8s}: supported-rate on true {float((s[pos] >= t).mean()) if pos.any() else float('nan'):.3f}, "
              f"on false {float((s[neg] >= t).mean()) if neg.any() else float('nan'):.3f}")
    p, r = precision_recall(s, labels, t)
    print(f"  overall precision {p:.3f} recall {r:.3f}")
    for name, weight in (("lexical only", 1.0), ("embedding only", 0.0)):
        best = max((f_beta(*precision_recall(scores_at(feats, weight), labels, tt)), tt)
                    for tt in THRESHOLDS)
        pp, rr = precision_recall(scores_at(feats, weight), labels, best[1])
        print(f"  {name}: best threshold {best[1]:.3f} precision {pp:.3f} recall {rr:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
