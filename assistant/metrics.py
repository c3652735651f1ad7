"""Retrieval and answer metrics, pure: recomputable from a report's per-question rows.

Nothing here touches the index or a model, so each function is unit-tested on hand-made cases and
`summarize` gives the same figures whoever runs it on the same rows.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.questions import Question

_MARKER_RE = re.compile(r"\[\d+\]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00ab": '"', "\u00bb": '"'})


def normalize_answer(text: str) -> str:
    """Accents stripped, casefolded, citation markers and extra spaces removed."""
    text = _MARKER_RE.sub(" ", text).translate(_QUOTES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(text.split())


def answer_hit(answer: str, gold: tuple[str, ...] | list[str], abstained: bool) -> bool:
    if abstained:
        return False
    norm = normalize_answer(answer)
    return any(g_norm and g_norm in norm for g_norm in (normalize_answer(g) for g in gold))


_ARTICLES_RE = re.compile(r"\b(?:le|la|les|l|un|une|des|du|de|d|au|aux)\b")


def normalize_span(text: str) -> str:
    """SQuAD-style normalisation for French: lower case, accents, punctuation and articles stripped."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def span_exact_match(predicted: str | None, gold: tuple[str, ...] | list[str]) -> float:
    if predicted is None or not gold:
        return 0.0
    return 1.0 if any(normalize_span(predicted) == normalize_span(g) for g in gold) else 0.0


def span_f1(predicted: str | None, gold: tuple[str, ...] | list[str]) -> float:
    """Best token F1 against any gold answer; a missing prediction scores 0."""
    if predicted is None or not gold:
        return 0.0
    pred = normalize_span(predicted).split()
    best = 0.0
    for g in gold:
        ref = normalize_span(g).split()
        common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
        if not pred or not ref or not common:
            continue
        p, r = common / len(pred), common / len(ref)
        best = max(best, 2 * p * r / (p + r))
    return best


def dangling_answer(answer: str) -> bool:
    """Whether the answer opens on a subject pronoun (il, elle, ils, elles) used as a reference."""
    from assistant.antecedent import dangles

    return dangles(answer)


def citation_doc_id(citation: Any) -> str:
    """Rows carry full citation objects; older reports carried bare doc ids."""
    return citation if isinstance(citation, str) else citation["doc_id"]


def highlighted_text(citation: Any) -> str | None:
    if isinstance(citation, str) or not citation.get("highlight"):
        return None
    h, start = citation["highlight"], citation["start"]
    return citation["quote"][h["start"] - start:h["end"] - start]


def recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    return 1.0 if any(d in relevant for d in ranked[:k]) else 0.0


def reciprocal_rank(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k], start=1):
        if d in relevant:
            return 1.0 / i
    return 0.0


def percentile(values: list[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def rounded_mean(values: list[float]) -> float | None:
    """The mean to 4 decimals (what reports show), None for no values rather than a misleading 0."""
    return round(sum(values) / len(values), 4) if values else None


def summarize(rows: list[dict[str, Any]], questions: dict[str, Question], indexed: set[str]) -> dict[str, Any]:
    """The report's figures from its per-question rows.

    Retrieval metrics and citation precision count only questions whose gold documents are in
    the index at all; when none is (the abstention check), they are null rather than zero.
    """
    retr: list[dict[str, Any]] = []
    hits: list[float] = []
    em: list[float] = []
    f1: list[float] = []
    cited = cited_gold = 0
    for row in rows:
        q = questions[row["id"]]
        gold = set(q.relevant_doc_ids)
        gold_indexed = bool(gold & indexed)
        if gold_indexed:
            retr.append({"ranked": row["retrieved_doc_ids"], "gold": gold})
            if not row["abstained"]:
                cited += len(row["citations"])
                cited_gold += sum(1 for c in row["citations"] if citation_doc_id(c) in gold)
        if q.answers and (gold_indexed or not gold):
            hits.append(1.0 if answer_hit(row["answer"], q.answers, row["abstained"]) else 0.0)
            first = None if row["abstained"] or not row["citations"] else highlighted_text(row["citations"][0])
            em.append(span_exact_match(first, q.answers))
            f1.append(span_f1(first, q.answers))
    latencies = [row["latency_ms"] for row in rows if row.get("latency_ms") is not None]
    answered = [row for row in rows if not row["abstained"]]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "n": len(rows),
        "n_gold_indexed": len(retr),
        "recall_at_1": rounded_mean([recall_at(r["ranked"], r["gold"], 1) for r in retr]),
        "recall_at_5": rounded_mean([recall_at(r["ranked"], r["gold"], 5) for r in retr]),
        "recall_at_10": rounded_mean([recall_at(r["ranked"], r["gold"], 10) for r in retr]),
        "mrr_at_10": rounded_mean([reciprocal_rank(r["ranked"], r["gold"], 10) for r in retr]),
        "answer_hit": rounded_mean(hits),
        "citation_precision": round(cited_gold / cited, 4) if cited else None,
        "highlight_em": rounded_mean(em),
        "highlight_f1": rounded_mean(f1),
        "dangling_rate": rounded_mean([1.0 if dangling_answer(r["answer"]) else 0.0 for r in answered]),
        "sentences_per_answer": rounded_mean([float(len(r["citations"])) for r in answered]),
        "abstention_rate": rounded_mean([1.0 if row["abstained"] else 0.0 for row in rows]),
        "latency_ms_p50": round(p50, 2) if p50 is not None else None,
        "latency_ms_p95": round(p95, 2) if p95 is not None else None,
    }
