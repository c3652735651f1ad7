"""Candidate answer spans of a quote and their features, for the learned highlighter
(assistant/highlight.py reads the weights fitted by scripts/fit_highlight.py)."""

from __future__ import annotations

import math
import re

from assistant.span_lexicon import DATE_RE, NUMBER_RE, STOP, WORD_RE, fold_word, question_stems, stem_word

MAX_SPAN_WORDS = 8
KINDS = ("number", "date", "person", "place", None)
CLAUSE_RE = re.compile(r"[^,;:()«»\"“”.!?]+")
_PREPOSITIONS = {"a", "au", "aux", "en", "dans", "par", "de", "du", "des", "vers", "pour", "sur", "chez"}


def candidate_spans(question: str, kind: str | None, quote: str) -> list[tuple[int, int, list[float]]]:
    """(start, end, features) of every run of up to MAX_SPAN_WORDS words inside one clause that holds
    none of the question's words and neither starts nor ends on a function word."""
    stems = question_stems(question)
    words = list(WORD_RE.finditer(quote))
    is_q = [stem_word(w.group(0)) in stems and fold_word(w.group(0)) not in STOP for w in words]
    q_idx = [i for i, q in enumerate(is_q) if q]
    clause_of = []
    bounds = [(m.start(), m.end()) for m in CLAUSE_RE.finditer(quote)]
    for w in words:
        clause_of.append(next((n for n, (s, e) in enumerate(bounds) if s <= w.start() < e), -1))
    dates = [(m.start(), m.end()) for m in DATE_RE.finditer(quote)]
    numbers = [(m.start(), m.end()) for m in NUMBER_RE.finditer(quote)]
    kind_vec = [1.0 if kind == k else 0.0 for k in KINDS]
    out = []
    for i in range(len(words)):
        if is_q[i] or fold_word(words[i].group(0)) in STOP:
            continue
        for j in range(i, min(i + MAX_SPAN_WORDS, len(words))):
            if is_q[j] or clause_of[j] != clause_of[i]:
                break
            if fold_word(words[j].group(0)) in STOP:
                continue
            start, end = words[i].start(), words[j].end()
            n = j - i + 1
            toks = [w.group(0) for w in words[i:j + 1]]
            caps = sum(1 for t in toks if t[:1].isupper()) / n
            digit = 1.0 if any(c.isdigit() for c in quote[start:end]) else 0.0
            in_date = 1.0 if any(s <= start and end <= e for s, e in dates) else 0.0
            is_date = 1.0 if any(abs(s - start) <= 3 and abs(e - end) <= 1 for s, e in dates) else 0.0
            in_num = 1.0 if any(s <= start < e for s, e in numbers) else 0.0
            dist = min((min(abs(q - i), abs(q - j)) for q in q_idx), default=30)
            right_of_q = 1.0 if any(0 < i - q <= 2 and all(not is_q[x] and fold_word(words[x].group(0)) in STOP
                                                           for x in range(q + 1, i)) for q in q_idx) else 0.0
            left_of_q = 1.0 if any(0 < q - j <= 2 and all(not is_q[x] and fold_word(words[x].group(0)) in STOP
                                                          for x in range(j + 1, q)) for q in q_idx) else 0.0
            prev = fold_word(words[i - 1].group(0)) if i > 0 else ""
            clause_start = 1.0 if i == 0 or clause_of[i - 1] != clause_of[i] else 0.0
            clause_end = 1.0 if j == len(words) - 1 or clause_of[j + 1] != clause_of[j] else 0.0
            sentence_start = 1.0 if i == 0 else 0.0
            base = [1.0, n / MAX_SPAN_WORDS, (n / MAX_SPAN_WORDS) ** 2, math.log1p(dist), right_of_q, left_of_q,
                    caps, 1.0 if toks[0][:1].isupper() else 0.0, digit, in_date, is_date, in_num,
                    1.0 if prev in _PREPOSITIONS else 0.0, clause_start, clause_end, sentence_start]
            typed = [caps, digit, is_date, in_num, right_of_q, 1.0 if prev in _PREPOSITIONS else 0.0, n / MAX_SPAN_WORDS]
            cross = [k * t for k in kind_vec for t in typed]
            out.append((start, end, base + cross))
    return out
