"""The few words of a quote that answer: the number and its unit (combien), the date (quand),
the name (qui), the place (où); for other questions the name or phrase the question does not
already say, nearest to the words it does say. Offsets are the document's, inside the quote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from assistant.span_lexicon import (
    CLAUSE_RE,
    DATE_RE,
    NAME_RE,
    NUMBER_RE,
    PLACE_LEAD_RE,
    STOP,
    WORD_RE,
    fold_word,
    question_stems,
    stem_word,
)


def _anchors(quote: str, stems: set[str]) -> list[int]:
    return [m.start() for m in WORD_RE.finditer(quote) if stem_word(m.group(0)) in stems and fold_word(m.group(0)) not in STOP]


def _distance(pos: tuple[int, int], anchors: list[int]) -> float:
    if not anchors:
        return float(pos[0])
    return min(min(abs(a - pos[0]), abs(a - pos[1])) for a in anchors)


def _new(span_text: str, stems: set[str]) -> bool:
    """Whether the span says something the question does not already say."""
    words = [w for w in WORD_RE.findall(span_text) if fold_word(w) not in STOP]
    return bool(words) and any(stem_word(w) not in stems for w in words)


def _best(spans: list[tuple[int, int]], quote: str, anchors: list[int], stems: set[str]) -> tuple[int, int] | None:
    spans = [s for s in spans if s[1] > s[0] and _new(quote[s[0]:s[1]], stems)]
    if not spans:
        return None
    return min(spans, key=lambda s: (_distance(s, anchors), s[0]))


def _names(quote: str, stems: set[str]) -> list[tuple[int, int]]:
    out = []
    for m in NAME_RE.finditer(quote):
        start, end = m.start(), m.end()
        text = quote[start:end].rstrip(".")
        end = start + len(text)
        # Drop leading words the question already has ("Le président Macron" asked as "président").
        words = list(WORD_RE.finditer(text))
        while words and stem_word(words[0].group(0)) in stems and len(words) > 1:
            words.pop(0)
        if words:
            out.append((start + words[0].start(), end))
    return out


WEIGHTS_PATH = Path(__file__).with_name("highlight_weights.json")
_weights: list[float] | None = None


def learned_weights() -> list[float] | None:
    """The span scorer fitted by scripts/fit_highlight.py, when its file is there."""
    global _weights
    if _weights is None and WEIGHTS_PATH.is_file():
        _weights = [float(w) for w in json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))["weights"]]
    return _weights


def highlight_span(question: str, kind: str | None, quote: str) -> tuple[int, int] | None:
    """Offsets inside `quote` of the words that answer, or None when nothing fits the question:
    the best-scoring candidate span under the learned weights, else the rules below."""
    weights = learned_weights()
    if weights is None or kind is not None:
        # A number, date, name or place: the rules find it better than the learned scorer (PIAF
        # dev, both halves), and a quote without one has nothing to mark. The scorer takes the rest.
        return rule_span(question, kind, quote)
    from assistant.span_features import candidate_spans

    cands = candidate_spans(question, kind, quote)
    if not cands:
        return None
    best = max(cands, key=lambda c: sum(w * f for w, f in zip(weights, c[2])))
    return best[0], best[1]


def rule_span(question: str, kind: str | None, quote: str) -> tuple[int, int] | None:
    """Rules: the number, date, name or place nearest the question's words; for other questions the
    few words right next to them that the question does not say."""
    stems = question_stems(question)
    anchors = _anchors(quote, stems)
    if kind == "date":
        return _best([(m.start(), m.end()) for m in DATE_RE.finditer(quote)], quote, anchors, stems)
    if kind == "number":
        spans = [(m.start(), m.end()) for m in NUMBER_RE.finditer(quote)]
        return _best([(s, e) for s, e in spans if quote[s:e].strip()], quote, anchors, stems)
    if kind == "person":
        return _best(_names(quote, stems), quote, anchors, stems)
    if kind == "place":
        names = _names(quote, stems)
        led = [s for s in names if PLACE_LEAD_RE.search(quote[max(0, s[0] - 12):s[0]])]
        return _best(led or names, quote, anchors, stems)
    return _generic(quote, anchors, stems)


GENERIC_MAX_WORDS = 4


def _generic(quote: str, anchors: list[int], stems: set[str]) -> tuple[int, int] | None:
    """The words right next to the question's own words that the question does not say: a run of
    them inside one clause, cut to a few words on the side facing the question's words."""
    pieces: list[tuple[float, int, int]] = []
    for clause in CLAUSE_RE.finditer(quote):
        words = list(WORD_RE.finditer(clause.group(0)))
        base = clause.start()
        is_q = [stem_word(w.group(0)) in stems and fold_word(w.group(0)) not in STOP for w in words]
        i = 0
        while i < len(words):
            if is_q[i]:
                i += 1
                continue
            j = i
            while j < len(words) and not is_q[j]:
                j += 1
            run = words[i:j]
            left_q, right_q = i > 0, j < len(words)
            if left_q or not right_q:
                run = _trim(run[:GENERIC_MAX_WORDS + 2])[:GENERIC_MAX_WORDS]
                side = 0.0 if left_q else 2.0
            else:
                run = _trim(run[-(GENERIC_MAX_WORDS + 2):])[-GENERIC_MAX_WORDS:]
                side = 1.0
            run = _trim(run)
            if run:
                pieces.append((side, base + run[0].start(), base + run[-1].end()))
            i = j
    ranked = [p for p in pieces if _new(quote[p[1]:p[2]], stems)]
    if not ranked:
        return None
    best = min(ranked, key=lambda p: (p[0] + _distance((p[1], p[2]), anchors) / 40.0, p[1]))
    return best[1], best[2]


def _trim(run: list[re.Match[str]]) -> list[re.Match[str]]:
    while run and fold_word(run[0].group(0)) in STOP:
        run = run[1:]
    while run and fold_word(run[-1].group(0)) in STOP:
        run = run[:-1]
    return run


def quote_parts(quote: str, start: int, highlight: dict[str, int] | None) -> tuple[str, str, str]:
    """The quote on one line, cut around its highlight: (before, highlighted, after); the middle is
    empty when there is none or it does not lie inside the quote."""
    lo = hi = -1
    if highlight:
        lo, hi = highlight.get("start", -1) - start, highlight.get("end", -1) - start
    if not 0 <= lo < hi <= len(quote):
        return " ".join(quote.split()), "", ""
    before, mid, after = quote[:lo], quote[lo:hi], quote[hi:]
    line = " ".join(f"{before}\x00{mid}\x00{after}".split())
    parts = line.split("\x00")
    return parts[0], parts[1], parts[2]
