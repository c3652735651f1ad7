"""Draw date mentions to label, at random with a fixed seed, from dated dev articles.

Candidates come from a deliberately broad word list (weekdays, months, hier/demain, "la semaine
dernière", ...), not from assistant/date_mentions.py, so the sample does not inherit the resolver's
blind spots. One mention per article. Prints JSON lines with `value` left to fill in by hand:
    python scripts/sample_date_mentions.py --n 100 > /tmp/to_label.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from pathlib import Path

from index.chunking import split_sentences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CANDIDATE_RE = re.compile(
    r"(?i)\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|hier|avant-hier|demain|aujourd'hui|"
    r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    r"semaine (?:dernière|prochaine|passée)|mois (?:dernier|prochain)|l'an dernier|l'année (?:dernière|prochaine))\b")


def articles(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def draw(records: list[dict], n: int, rng: random.Random, corpus: str) -> list[dict]:
    out = []
    for rec in rng.sample(records, len(records)):
        if len(out) >= n:
            break
        text = rec["text"]
        found = [(s, m) for s in split_sentences(text) if s.kind == "sentence"
                 for m in CANDIDATE_RE.finditer(text, s.start, s.end)]
        if not found:
            continue
        span, m = rng.choice(found)
        date = rec["date"]
        out.append({"corpus": corpus, "doc_id": rec["id"], "article_date": date,
                    "weekday": dt.date.fromisoformat(date).strftime("%a"),
                    "sentence": text[span.start:span.end], "mention": m.group(0),
                    "offset": m.start() - span.start, "value": None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    wiki = draw(articles(DATA / "frwikinews_2012_100.jsonl"), args.n // 4, rng, "frwikinews")
    news = draw(articles(DATA / "orangesum_fr_news_20k.jsonl"), args.n - len(wiki), rng, "orangesum")
    for item in wiki + news:
        print(json.dumps(item, ensure_ascii=False))


if __name__ == "__main__":
    main()
