"""Draw the sentences of tests/data/speakers.jsonl (before labelling; the gold speaker is added by hand).

Fixed seed; one sentence per article; about two thirds from sentences that look like reported
speech (quotation marks or a speech cue), one third from any sentence, plus sentences of the two
seed dispatches. Each item keeps the sentence and the two before it in its paragraph run, never
the article: the corpus is not redistributed.

    PYTHONPATH=$PWD python scripts/sample_speaker_sentences.py > /tmp/speakers_unlabelled.jsonl
    # the held-out set (tests/data/speakers_heldout.jsonl), drawn after the extractor was written:
    PYTHONPATH=$PWD python scripts/sample_speaker_sentences.py --seed 14 --speech 40 --any 20 --seeds 0 \
        --exclude tests/data/speakers.jsonl > /tmp/speakers_heldout_unlabelled.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from index.chunking import split_sentences

REPO = Path(__file__).resolve().parents[1]
NEWS = REPO.parent / "shared" / "data" / "orangesum_fr_news_20k.jsonl"
SEED = 13
SPEECH_LIKE = re.compile(r"[«»\"“”]|\b(?:selon|d'après|déclar|affirm|assur|indiqu|estim|expliqu|précis|ajout|"
                         r"soulign|dénonc|annonc|a dit|ont dit|a-t-il|a-t-elle)", re.I)


def items(doc_id: str, text: str, origin: str) -> list[dict]:
    spans = [s for s in split_sentences(text) if s.kind == "sentence"]
    out = []
    for i, s in enumerate(spans):
        before = spans[max(0, i - 2):i]
        ctx_start = before[0].start if before else s.start
        out.append({"doc_id": doc_id, "origin": origin, "context": text[ctx_start:s.start],
                     "sentence": text[s.start:s.end]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--speech", type=int, default=95, help="sentences that look like reported speech")
    parser.add_argument("--any", type=int, default=40, help="sentences drawn from any sentence")
    parser.add_argument("--seeds", type=int, default=25, help="sentences of the seed dispatches")
    parser.add_argument("--exclude", type=Path, help="a labelled set whose articles are not drawn again")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    excluded = set()
    if args.exclude:
        excluded = {json.loads(x)["doc_id"] for x in args.exclude.read_text(encoding="utf-8").splitlines() if x}
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    picked = rng.sample(lines, 400)
    speech, other = [], []
    for line in picked:
        rec = json.loads(line)
        if rec["id"] in excluded:
            continue
        cands = [c for c in items(rec["id"], rec["text"], "orangesum") if 30 <= len(c["sentence"]) <= 400]
        if not cands:
            continue
        like = [c for c in cands if SPEECH_LIKE.search(c["sentence"])]
        if len(speech) < args.speech and like and rng.random() < 0.7:
            speech.append(rng.choice(like))
        elif len(other) < args.any:
            other.append(rng.choice(cands))
    seeds = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        seeds += items(path.name, path.read_text(encoding="utf-8"), "seed")
    seeds = rng.sample(seeds, args.seeds)
    out = speech + other + seeds
    for n, item in enumerate(out):
        item["id"] = f"s{n:03d}" if args.seed == SEED else f"h{args.seed}-{n:03d}"
        print(json.dumps(item, ensure_ascii=False))
    print(f"{len(speech)} speech-like, {len(other)} any, {len(seeds)} seed", file=sys.stderr)


if __name__ == "__main__":
    main()
