"""Checks each sentence of a generated answer against the passages it cites.

A model can write a fluent sentence that its cited passage does not say. The support score
combines what the words say (the sentence's content terms found in the passage, rare terms
weighing more, numbers that must match) with what an embedding says (closest passage
sentence). A sentence is supported when the score reaches a threshold tuned on PIAF
development cases (see docs/benchmarks.md, "Verification", and scripts/tune_verification.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.chunking import split_sentences
from index.french import analyze, tokenize

# Tuned on PIAF dev cases (scripts/tune_verification.py); the measured precision/recall is in
# docs/benchmarks.md under "Verification".
LEXICAL_WEIGHT = 0.9
SUPPORT_THRESHOLD = 0.85
QUESTION_TERM_FACTOR = 0.5
# A term the index has never seen is at least as rare as its rarest: about the IDF of a one-off
# term among a few thousand chunks.
_UNKNOWN_TERM_WEIGHT = 8.0

# [1] [1, 2] [1;3] [passage 2] [P2] [#2] and the full-width 【1】 some models emit.
_MARKER_RE = re.compile(
    r"[\[【]\s*(?:(?:passages?|source|p|#)\s*)?\d{1,3}(?:\s*[,;]\s*(?:(?:passages?|source|p|#)\s*)?\d{1,3})*\s*[\]】]",
    re.IGNORECASE)
_MARKER_RUN_RE = re.compile(r"(?:\s*" + _MARKER_RE.pattern + r")+", re.IGNORECASE)
# Markers written after the full stop ("... fin. [2]") belong to that sentence.
_TRAILING_MARKERS_RE = re.compile(r"([.!?…]+)((?:\s*" + _MARKER_RE.pattern + r")+)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d")
_GROUPED_RE = re.compile(r"\b\d{1,3}(?:[ \u00a0\u202f]\d{3})+\b")


def markernumbers_in(marker: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d{1,3}", marker)]


@dataclass
class Claim:
    """One generated sentence: its text without markers and the passage numbers it cites."""

    text: str
    markers: list[int]
    dropped_markers: list[int] = field(default_factory=list)  # pointed at no passage


def split_claims(answer: str, valid: Sequence[int]) -> list[Claim]:
    """Sentences of a generated answer with their markers; markers naming no passage are dropped."""
    valid_set = set(valid)
    text = " ".join(answer.split())
    text = _TRAILING_MARKERS_RE.sub(lambda m: m.group(2) + m.group(1), text)
    claims: list[Claim] = []
    for span in split_sentences(text):
        sentence = text[span.start:span.end]
        found: list[int] = []
        for m in _MARKER_RE.finditer(sentence):
            found.extend(markernumbers_in(m.group(0)))
        bare = " ".join(_MARKER_RUN_RE.sub("", sentence).split())
        if not re.search(r"\w", bare):
            if claims:  # a line of markers alone cites for the sentence before it
                prev = claims[-1]
                prev.markers.extend(n for n in dict.fromkeys(found) if n in valid_set and n not in prev.markers)
                prev.dropped_markers.extend(n for n in found if n not in valid_set)
            continue
        markers = [n for n in dict.fromkeys(found) if n in valid_set]
        claims.append(Claim(text=bare, markers=markers,
                            dropped_markers=[n for n in dict.fromkeys(found) if n not in valid_set]))
    return claims


@dataclass(frozen=True)
class EvidenceSentence:
    text: str
    start: int  # offsets in the dispatch text
    end: int


@dataclass
class Evidence:
    """A cited passage as the verifier sees it: its sentences, its words, its numbers."""

    sentences: list[EvidenceSentence]
    terms: set[str]
    numbers: set[str]
    vectors: np.ndarray | None = None


def passage_evidence(doc_text: str, start: int, end: int, title: str | None = None, body_start: int = 0,
                     exclude: Callable[[str], bool] | None = None) -> Evidence:
    """Sentences overlapping [start, end) of the dispatch, clipped to the passage, minus `exclude`d ones."""
    sentences: list[EvidenceSentence] = []
    for span in split_sentences(doc_text, min(body_start, start)):
        if span.end <= start or span.start >= end:
            continue
        a, b = max(span.start, start), min(span.end, end)
        if doc_text[a:b].strip():
            sentences.append(EvidenceSentence(doc_text[a:b], a, b))
    if not sentences and doc_text[start:end].strip():
        sentences.append(EvidenceSentence(doc_text[start:end], start, end))
    if exclude is not None:
        kept = [s for s in sentences if not exclude(s.text)]
        if len(kept) != len(sentences):
            body = " ".join(s.text for s in kept)
            return Evidence(sentences=kept, terms=set(analyze((title or "") + "\n" + body)),
                            numbers=numbers_in(body))
    context = (title or "") + "\n" + doc_text[start:end]
    return Evidence(sentences=sentences, terms=set(analyze(context)), numbers=numbers_in(context))


def numbers_in(text: str) -> set[str]:
    # "100 000" is one number in French typography, whatever the space.
    text = _GROUPED_RE.sub(lambda m: re.sub(r"\s", "", m.group(0)), text)
    return {t for t in tokenize(text) if _NUMBER_RE.search(t)}


@dataclass(frozen=True)
class Support:
    score: float
    lexical: float
    semantic: float
    best_sentence: int  # index into Evidence.sentences


class Verifier:
    """Scores claims against evidence; `embed` maps texts to unit vectors (the index's embedder)."""

    def __init__(self, embed: Any | None, threshold: float = SUPPORT_THRESHOLD,
                 lexical_weight: float = LEXICAL_WEIGHT, term_weights: dict[str, float] | None = None,
                 question: str = "") -> None:
        self.embed = embed
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.term_weights = term_weights or {}
        self.question_terms = set(analyze(question))

    def lexical(self, claim: str, evidence: Evidence) -> float:
        terms = list(dict.fromkeys(analyze(claim)))
        if not terms:
            return 0.0
        # Restating the question in other words is not a new claim; its terms weigh less, not nothing,
        # so a false premise repeated from the question still needs its passage.
        weights = {t: (self.term_weights.get(t) or _UNKNOWN_TERM_WEIGHT)
                   * (QUESTION_TERM_FACTOR if t in self.question_terms else 1.0) for t in terms}
        found = sum(w for t, w in weights.items() if t in evidence.terms)
        score = found / sum(weights.values())
        numbers = numbers_in(claim)
        if numbers:
            # A number the passage does not contain is the commonest invented detail.
            missing = len(numbers - evidence.numbers) / len(numbers)
            score *= 1.0 - missing
        return score

    def prepare(self, evidences: Sequence[Evidence]) -> None:
        """Embed every evidence sentence once (one batch for the whole answer)."""
        if self.embed is None:
            return
        todo = [e for e in evidences if e.vectors is None]
        texts = [s.text for e in todo for s in e.sentences]
        if not texts:
            return
        vectors = self.embed(texts)
        at = 0
        for e in todo:
            e.vectors = vectors[at:at + len(e.sentences)]
            at += len(e.sentences)

    def support(self, claim: str, evidence: Evidence, claim_vector: np.ndarray | None = None) -> Support:
        lexical = self.lexical(claim, evidence)
        if not evidence.sentences:
            return Support(0.0, lexical, 0.0, 0)
        if self.embed is None:  # lexical only: the best sentence is the one sharing most words
            best = max(range(len(evidence.sentences)),
                       key=lambda i: self.lexical(claim, _single(evidence.sentences[i])))
            return Support(lexical, lexical, 0.0, best)
        if claim_vector is None:
            claim_vector = self.embed([claim])[0]
        self.prepare([evidence])
        sims = evidence.vectors @ claim_vector
        best = int(np.argmax(sims))
        semantic = float(max(sims[best], 0.0))
        w = self.lexical_weight
        return Support(w * lexical + (1 - w) * semantic, lexical, semantic, best)

    def is_supported(self, support: Support) -> bool:
        return support.score >= self.threshold


def _single(sentence: EvidenceSentence) -> Evidence:
    return Evidence(sentences=[sentence], terms=set(analyze(sentence.text)), numbers=numbers_in(sentence.text))


@dataclass
class CheckedClaim:
    claim: Claim
    supported: bool
    score: float
    # marker -> (score against that passage, index of its best sentence)
    per_marker: dict[int, Support] = field(default_factory=dict)


def check_claims(verifier: Verifier, claims: list[Claim], evidence: dict[int, Evidence]) -> list[CheckedClaim]:
    """Each claim is supported when one of the passages it cites supports it; no marker, no support."""
    verifier.prepare([evidence[m] for m in sorted({m for c in claims for m in c.markers})])
    vectors = verifier.embed([c.text for c in claims]) if verifier.embed is not None and claims else None
    out: list[CheckedClaim] = []
    for i, claim in enumerate(claims):
        per_marker = {m: verifier.support(claim.text, evidence[m], None if vectors is None else vectors[i])
                      for m in claim.markers}
        best = max((s.score for s in per_marker.values()), default=0.0)
        supported = bool(per_marker) and any(verifier.is_supported(s) for s in per_marker.values())
        out.append(CheckedClaim(claim=claim, supported=supported, score=best, per_marker=per_marker))
    return out

