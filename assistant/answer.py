"""Extractive answers: sentences quoted from the retrieved passages, each with its citation.

Nothing is generated here, so nothing can be invented: every sentence of the answer is
`text[start:end]` of a dispatch. When the passages do not cover the question, it abstains
and shows them as related reading instead.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.retrieval import Passage
from index.chunking import split_sentences
from index.french import analyze, fold_accents, tokenize
from index.records import DocumentRecord

SCHEMA_VERSION = 1


@dataclass
class Citation:
    marker: int | None
    doc_id: str
    source_path: str
    title: str | None
    date: str | None
    source: str | None
    quote: str
    start: int
    end: int
    score: float


@dataclass
class AnswerSentence:
    text: str
    markers: list[int]
    supported: bool


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"
    fallback: bool = False
    fallback_reason: str | None = None
    sentences: list[AnswerSentence] = field(default_factory=list)
    language: str = "fr"
    retrieved_doc_ids: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        order = ["schema_version", "question", "answer", "abstained", "citations", "related", "timings_ms",
                 "mode", "fallback", "fallback_reason", "sentences", "language", "retrieved_doc_ids"]
        return {k: data[k] for k in order}


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    doc: DocumentRecord
    start: int
    end: int
    score: float
    coverage: float


# Question-type cues: what kind of token an answer to "qui/quand/combien/où" usually holds.
_MONTHS = ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
           "january february march april may june july august september october november december "
           "lundi mardi mercredi jeudi vendredi samedi dimanche").split()
_DATE_RE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(" + "|".join(_MONTHS) + r")\b|\bsiecle\b")
_NUMBER_RE = re.compile(r"\d|\b(un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|"
                        r"trente|quarante|cinquante|cent|cents|mille|million|millions|milliard|milliards|"
                        r"dizaine|dizaines|centaine|centaines|moitie|quart|tiers)\b")
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Ý][\wÀ-ÿ'-]+")


def question_type(question: str) -> str | None:
    q = fold_accents(question.lower())
    words = re.findall(r"[a-z]+", q)
    head = " ".join(words[:4])
    if re.search(r"\b(combien|how many|how much|quel (nombre|montant|age)|quelle (somme|quantite|superficie|population))\b", q):
        return "number"
    if re.search(r"\b(quand|en quelle annee|a quelle date|quelle annee|quel siecle|depuis quand|when|what year)\b", q):
        return "date"
    if re.search(r"\b(qui|who|whom|par qui|de qui|a qui)\b", head) or re.match(r"^(qui|who)\b", q):
        return "person"
    if re.search(r"\b(ou|where|dans quel pays|dans quelle ville|quel pays|quelle ville|quelle region)\b", head):
        return "place"
    return None


def cue_score(kind: str | None, sentence: str, question: str) -> float:
    if kind is None:
        return 0.0
    folded = fold_accents(sentence.lower())
    if kind == "number":
        return 1.0 if _NUMBER_RE.search(folded) else 0.0
    if kind == "date":
        return 1.0 if _DATE_RE.search(folded) else 0.0
    q_words = {w.lower() for w in tokenize(question)}
    names = [m.group(0) for m in _NAME_RE.finditer(sentence) if m.group(0).lower() not in q_words]
    return 1.0 if names else 0.0


@dataclass(frozen=True)
class AnswerParams:
    max_sentences: int = 2
    abstain_threshold: float = 0.5
    passages_considered: int = 5


def compose(question: str, passages: list[Passage], docs: dict[str, DocumentRecord],
            term_weights: dict[str, float], params: AnswerParams) -> Answer:
    """Pick the sentences that answer; abstain when the best evidence is too thin."""
    language = "en" if _looks_english(question) else "fr"
    q_terms = list(dict.fromkeys(analyze(question)))
    candidates = _candidates(question, q_terms, passages[:params.passages_considered], docs, term_weights)
    retrieved = list(dict.fromkeys(p.doc_id for p in passages))
    best_coverage = max((c.coverage for c in candidates), default=0.0)
    passage_coverage = _best_passage_coverage(q_terms, passages[:params.passages_considered], docs, term_weights)
    evidence = 0.5 * best_coverage + 0.5 * passage_coverage
    if not candidates or evidence < params.abstain_threshold:
        related = _related(candidates, passages, docs)
        return Answer(question=question, answer=abstention_message(language), abstained=True,
                      related=related, language=language, retrieved_doc_ids=retrieved)
    chosen = _choose(candidates, params.max_sentences)
    citations: list[Citation] = []
    parts: list[str] = []
    sentences: list[AnswerSentence] = []
    for marker, cand in enumerate(chosen, start=1):
        citations.append(_citation(marker, cand))
        quote = cand.doc.text[cand.start:cand.end]
        parts.append(f"{_one_line(quote)} [{marker}]")
        sentences.append(AnswerSentence(text=_one_line(quote), markers=[marker], supported=True))
    return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations,
                  related=[], sentences=sentences, language=language, retrieved_doc_ids=retrieved)


def abstention_message(language: str) -> str:
    if language == "en":
        return "The indexed dispatches do not answer this question. Closest passages are listed as related."
    return ("Les dépêches indexées ne répondent pas à cette question. Les passages les plus proches "
            "sont listés comme liés.")


def _candidates(question: str, q_terms: list[str], passages: list[Passage], docs: dict[str, DocumentRecord],
                weights: dict[str, float]) -> list[Candidate]:
    kind = question_type(question)
    total = sum(weights.get(t, 0.0) for t in q_terms) or 1.0
    top_score = max((p.score for p in passages), default=1.0) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, passage in enumerate(passages):
        doc = docs.get(passage.doc_id)
        if doc is None:
            continue
        title_terms = set(analyze(doc.title or ""))
        for span in split_sentences(doc.text, doc.body_start):
            if span.kind != "sentence" or span.end <= passage.start or span.start >= passage.end:
                continue
            if (doc.doc_id, span.start) in seen:
                continue
            seen.add((doc.doc_id, span.start))
            sentence = doc.text[span.start:span.end]
            terms = set(analyze(sentence))
            coverage = sum(weights.get(t, 0.0) for t in q_terms if t in terms) / total
            # Terms the title supplies count half: the sentence inherits its article's subject.
            coverage_ctx = sum(weights.get(t, 0.0) for t in q_terms if t in terms or t in title_terms) / total
            novelty = 1.0 if terms - set(q_terms) else 0.0
            score = (0.55 * coverage + 0.15 * coverage_ctx + 0.2 * (passage.score / top_score)
                     + 0.1 * cue_score(kind, sentence, question)) * (0.5 + 0.5 * novelty) - 0.01 * rank
            out.append(Candidate(passage=passage, doc=doc, start=span.start, end=span.end, score=score,
                                 coverage=coverage_ctx))
    return out


def _best_passage_coverage(q_terms: list[str], passages: list[Passage], docs: dict[str, DocumentRecord],
                           weights: dict[str, float]) -> float:
    total = sum(weights.get(t, 0.0) for t in q_terms) or 1.0
    best = 0.0
    for p in passages:
        doc = docs.get(p.doc_id)
        if doc is None:
            continue
        terms = set(analyze((doc.title or "") + "\n" + doc.text[p.start:p.end]))
        best = max(best, sum(weights.get(t, 0.0) for t in q_terms if t in terms) / total)
    return best


def _choose(candidates: list[Candidate], n: int) -> list[Candidate]:
    ranked = sorted(candidates, key=lambda c: -c.score)
    chosen: list[Candidate] = []
    for cand in ranked:
        if len(chosen) >= n:
            break
        if any(c.doc.doc_id == cand.doc.doc_id and c.start == cand.start for c in chosen):
            continue
        if chosen and cand.score < 0.5 * chosen[0].score:
            break  # a much weaker sentence dilutes the answer more than it adds
        chosen.append(cand)
    return chosen


def _related(candidates: list[Candidate], passages: list[Passage], docs: dict[str, DocumentRecord],
             limit: int = 3) -> list[Citation]:
    """Closest passages, each shown by its best sentence; never presented as citations."""
    best_per_passage: dict[str, Candidate] = {}
    for cand in candidates:
        cur = best_per_passage.get(cand.passage.chunk_id)
        if cur is None or cand.score > cur.score:
            best_per_passage[cand.passage.chunk_id] = cand
    out: list[Citation] = []
    seen_docs: set[str] = set()
    for p in passages:
        cand = best_per_passage.get(p.chunk_id)
        if cand is None or p.doc_id in seen_docs:
            continue
        seen_docs.add(p.doc_id)
        out.append(_citation(None, cand))
        if len(out) >= limit:
            break
    return out


def _citation(marker: int | None, cand: Candidate) -> Citation:
    doc = cand.doc
    return Citation(marker=marker, doc_id=doc.doc_id, source_path=doc.source_path, title=doc.title,
                    date=doc.date, source=doc.source, quote=doc.text[cand.start:cand.end], start=cand.start,
                    end=cand.end, score=round(float(cand.score), 4))


def _one_line(text: str) -> str:
    return " ".join(text.split())


_EN_WORDS = {"the", "what", "who", "when", "where", "which", "how", "why", "did", "does", "is", "are", "was",
             "were", "of", "in", "to", "and", "about", "say", "said"}
_FR_WORDS = {"le", "la", "les", "de", "des", "du", "qui", "que", "quoi", "quel", "quelle", "quels", "quelles",
             "est", "a", "ont", "pour", "sur", "dans", "comment", "pourquoi", "quand", "où", "combien", "et",
             "un", "une", "au", "aux", "en"}


def _looks_english(text: str) -> bool:
    words = [w.lower() for w in re.findall(r"[\wÀ-ÿ']+", text)]
    en = sum(w in _EN_WORDS for w in words)
    fr = sum(w in _FR_WORDS for w in words)
    return en > fr
