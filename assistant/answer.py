"""Extractive answers: sentences quoted from the retrieved passages, each with its citation.

Nothing is generated here, so nothing can be invented: every sentence of the answer is
`text[start:end]` of a dispatch. When the passages do not cover the question, it abstains
and shows them as related reading instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.antecedent import lead_sentence, quote_start
from assistant.attribution import quote_speaker
from assistant.date_mentions import quote_dates
from assistant.disagreement import Claim, compose_text, disagreeing_sides
from assistant.highlight import highlight_span
from assistant.language import question_language
from assistant.question_kind import cue_score, question_type
from assistant.retrieval import Passage
from assistant.speech import asked_speaker, reports_speaker
from index.chunking import Span, split_sentences
from index.french import analyze
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
    # Document offsets, inside start..end, of the few words that answer (assistant/highlight.py).
    highlight: dict[str, int] | None = None
    # Who the quote reports ("Dmitri Peskov", "le Kremlin"); None: the dispatch's own voice (assistant/attribution.py).
    speaker: str | None = None
    # The other versions of the cited dispatch: [{"doc_id", "title", "date", "source"}] (assistant/versions.py).
    versions: list[dict[str, Any]] = field(default_factory=list)
    # Date mentions inside the quote, resolved against the dispatch's date (assistant/date_mentions.py).
    dates: list[dict[str, Any]] = field(default_factory=list)


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
    # The earlier question an elliptic one continues ("Et lui ?"); None when it stands on its own.
    follow_up_of: str | None = None
    # What decided answering vs abstaining (lexical coverage, best cosine above background); not in the JSON.
    evidence: tuple[float, float] = (0.0, 0.0)
    # Sources that disagree: each side's speaker and markers (assistant/disagreement.py); None when they agree.
    disagreement: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        order = ["schema_version", "question", "answer", "abstained", "citations", "related", "timings_ms",
                 "mode", "fallback", "fallback_reason", "sentences", "language", "retrieved_doc_ids", "follow_up_of",
                 "disagreement"]
        return {k: data[k] for k in order}


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    doc: DocumentRecord
    start: int
    end: int
    score: float
    coverage: float
    features: dict[str, float] | None = None
    # False when the sentence's subject points back beyond a line or heading (assistant/antecedent.py)
    standalone: bool = True
    # For such a sentence, the one before it across the paragraph break, which names the subject:
    # cited just before it (assistant/antecedent.py lead_sentence).
    lead: tuple[int, int] | None = None


@dataclass(frozen=True)
class AnswerParams:
    max_sentences: int
    abstain_threshold: float
    # How far the best passage's cosine must stand above the question's background cosine to be
    # evidence on its own: the words of an English question are not in a French dispatch, so
    # lexical coverage cannot vouch for it.
    abstain_dense_margin: float
    passages_considered: int = 5
    # Further sentences only when they add support (_supporting): a user reads one sentence when one
    # answers, instead of the lede or a remark beside it. Costs answer-hit on PIAF dev (0.713 with two
    # sentences always, 0.68 with 1.5 per answer: docs/benchmarks.md, session 5).
    second_needs_support: bool = True


# Share of a sentence's score taken from the model's similarity to the question (rescaled to the
# candidates' own range). In French it re-ranks the best SIMILARITY_CANDIDATES by word overlap:
# PIAF dev answer-hit +6 to +12 points on both halves (docs/benchmarks.md, session 4), at the cost
# of encoding ten sentences per question. An English question's words rarely match the French
# sentences, so there the model ranks every candidate.
SIMILARITY_WEIGHT = 3.0
SIMILARITY_CANDIDATES = 10

Similarity = Callable[[Sequence[str]], Sequence[float]]


def compose(question: str, passages: list[Passage], docs: dict[str, DocumentRecord],
            term_weights: dict[str, float], params: AnswerParams, similarity: Similarity | None = None,
            background: float = 1.0) -> Answer:
    """Pick the sentences that answer; abstain when the best evidence is too thin.

    `background`: the question's mean cosine with unrelated sentences (assistant/background.py);
    the default leaves dense evidence out. `similarity` (texts -> cosine with the question), when
    given, scores the sentences of questions not in French, where word overlap says little.
    """
    language = question_language(question)
    q_terms = list(dict.fromkeys(analyze(question)))
    passage_terms: dict[int, set[str]] = {}
    considered = passages[:params.passages_considered]
    candidates = _candidates(question, q_terms, considered, docs, term_weights, passage_terms=passage_terms)
    retrieved = list(dict.fromkeys(p.doc_id for p in passages))
    best_coverage = max((c.coverage for c in candidates), default=0.0)
    passage_coverage = _best_passage_coverage(q_terms, considered, docs, term_weights, passage_terms)
    lexical = 0.5 * best_coverage + 0.5 * passage_coverage
    dense = max((p.dense for p in considered), default=0.0) - background
    evidence = (lexical, dense)
    if not candidates or (lexical < params.abstain_threshold and dense < params.abstain_dense_margin):
        related = _related(candidates, passages, docs)
        return Answer(question=question, answer=abstention_message(language), abstained=True,
                      related=related, language=language, retrieved_doc_ids=retrieved, evidence=evidence)
    if similarity is not None:
        candidates = _with_similarity(candidates, similarity, None if language != "fr" else SIMILARITY_CANDIDATES)
    chosen = _choose(candidates, params.max_sentences)
    # Support is a question term the first sentence lacks, so only a question in the dispatches'
    # language can be judged: an English question's words are never in a French sentence, and the
    # rule would drop second sentences for that alone (English news answer-hit 0.758 -> 0.661).
    if params.second_needs_support and language == "fr":
        chosen = _supporting(chosen, question, q_terms, term_weights)
    disagreeing = disagreeing_sides(q_terms, language, chosen, sorted(candidates, key=lambda c: -c.score), _claim)
    if disagreeing:
        chosen = list(disagreeing[:2])
    citations: list[Citation] = []
    parts: list[str] = []
    sentences: list[AnswerSentence] = []
    kind = question_type(question)
    for marker, cand in enumerate(chosen, start=1):
        citation = _citation(marker, cand)
        found = highlight_span(question, kind, citation.quote)
        if found is not None:
            citation.highlight = {"start": cand.start + found[0], "end": cand.start + found[1]}
        citations.append(citation)
        quote = cand.doc.text[cand.start:cand.end]
        parts.append(f"{_one_line(quote)} [{marker}]")
        sentences.append(AnswerSentence(text=_one_line(quote), markers=[marker], supported=True))
    disagreement = None
    if disagreeing:
        parts = [compose_text(language, disagreeing[2], *[(c.speaker, s.text, c.marker) for c, s in zip(citations, sentences)])]
        disagreement = [{"speaker": c.speaker, "markers": [c.marker]} for c in citations]
    return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations,
                  related=[], sentences=sentences, language=language, retrieved_doc_ids=retrieved,
                  evidence=evidence, disagreement=disagreement)


def _claim(cand: Candidate) -> Claim:
    return Claim(_quote(cand), None, cand.doc.doc_id, cand.start, cand.end,
                 find_speaker=lambda: quote_speaker(cand.doc.text, cand.start, cand.end))


def _with_similarity(candidates: list[Candidate], similarity: Similarity, best: int | None) -> list[Candidate]:
    """The `best` candidates by score (all when None) gain the model's similarity; the rest keep theirs."""
    ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
    chosen = sorted(ranked[:best] if best is not None else ranked)
    sims = [float(x) for x in similarity([candidates[i].doc.text[candidates[i].start:candidates[i].end]
                                          for i in chosen])]
    lo, hi = min(sims), max(sims)
    span = (hi - lo) or 1.0
    out = list(candidates)
    for i, s in zip(chosen, sims):
        out[i] = replace(candidates[i], score=candidates[i].score + SIMILARITY_WEIGHT * (s - lo) / span)
    return out


def abstention_message(language: str) -> str:
    if language == "en":
        return "The indexed dispatches do not answer this question. Closest passages are listed as related."
    return ("Les dépêches indexées ne répondent pas à cette question. Les passages les plus proches "
            "sont listés comme liés.")


# Hand-set weights of the sentence features below; assistant/sentence_weights.json, when present,
# holds weights fitted by logistic regression on half of the PIAF dev questions
# (scripts/fit_sentence_scorer.py, label: the sentence holds the gold answer).
DEFAULT_SENTENCE_WEIGHTS = {
    "coverage": 2.0, "title_coverage": 0.5, "neighbour_coverage": 0.5, "bigrams": 1.0, "passage": 1.0,
    "top_passage": 0.3, "cue": 0.5, "novelty": 0.5, "length": 0.0, "answer_span": 0.0, "speaker": 5.0,
}


def _load_weights() -> dict[str, float]:
    path = Path(__file__).with_name("sentence_weights.json")
    if not path.is_file():
        return dict(DEFAULT_SENTENCE_WEIGHTS)
    fitted = json.loads(path.read_text(encoding="utf-8"))["weights"]
    return {k: float(fitted.get(k, 0.0)) for k in DEFAULT_SENTENCE_WEIGHTS}


SENTENCE_WEIGHTS = _load_weights()


def sentence_features(q_terms: list[str], q_bigrams: set[tuple[str, str]], weights: dict[str, float],
                      total: float, terms: list[str], neighbour_terms: list[list[str]], title_terms: set[str],
                      passage_share: float, rank: int, cue: float, answer_span: float = 0.0,
                      speaker: float = 0.0) -> dict[str, float]:
    """What makes a sentence the answer: it says what the question says, and something more."""
    present = set(terms)
    coverage = sum(weights.get(t, 0.0) for t in q_terms if t in present) / total
    with_title = sum(weights.get(t, 0.0) for t in q_terms if t in present or t in title_terms) / total
    around = max((sum(weights.get(t, 0.0) for t in q_terms if t in set(n)) / total for n in neighbour_terms),
                 default=0.0)
    pairs = set(zip(terms, terms[1:]))
    bigrams = len(q_bigrams & pairs) / len(q_bigrams) if q_bigrams else 0.0
    q_set = set(q_terms)
    novelty = len([t for t in terms if t not in q_set]) / len(terms) if terms else 0.0
    return {"coverage": coverage, "title_coverage": with_title - coverage, "neighbour_coverage": around,
            "bigrams": bigrams, "passage": passage_share, "top_passage": 1.0 if rank == 0 else 0.0,
            "cue": cue, "novelty": novelty, "length": min(len(terms), 60) / 60.0, "answer_span": answer_span,
            "speaker": speaker}


def sentence_score(features: dict[str, float]) -> float:
    return sum(SENTENCE_WEIGHTS[k] * v for k, v in features.items())


def _candidates(question: str, q_terms: list[str], passages: list[Passage], docs: dict[str, DocumentRecord],
                weights: dict[str, float], with_features: bool = False,
                passage_terms: dict[int, set[str]] | None = None) -> list[Candidate]:
    """Sentence candidates; `passage_terms` receives, by rank, the terms of title + passage when the
    passage is exactly whole sentences (the usual case), so coverage need not analyse it again."""
    kind = question_type(question)
    speaker = asked_speaker(question)
    total = sum(weights.get(t, 0.0) for t in q_terms) or 1.0
    q_bigrams = set(zip(q_terms, q_terms[1:]))
    top_score = max((p.score for p in passages), default=1.0) or 1.0
    seen: set[tuple[str, int]] = set()
    analysed: dict[tuple[str, int, int], list[str]] = {}
    out: list[Candidate] = []
    for rank, passage in enumerate(passages):
        doc = docs.get(passage.doc_id)
        if doc is None:
            continue
        title_terms = set(analyze(doc.title or ""))
        region_lo, region_hi = _region(doc.text, passage.start, passage.end, doc.body_start)
        all_spans = split_sentences(doc.text[:region_hi], region_lo)
        spans = [s for s in all_spans if s.kind == "sentence"]
        inside = [i for i, s in enumerate(spans) if s.end > passage.start and s.start < passage.end]
        if not inside:
            continue
        lo, hi = max(inside[0] - 1, 0), min(inside[-1] + 1, len(spans) - 1)
        terms_of = {}
        for i in range(lo, hi + 1):
            key = (doc.doc_id, spans[i].start, spans[i].end)
            if key not in analysed:  # adjacent passages of one article share their edge sentences
                analysed[key] = analyze(doc.text[spans[i].start:spans[i].end])
            terms_of[i] = analysed[key]
        if passage_terms is not None and _whole_sentences(passage, all_spans, region_lo, region_hi):
            # Tokens never cross whitespace and only whitespace lies between spans, so these are
            # exactly the terms of analyze(title + "\n" + passage text).
            passage_terms[rank] = title_terms.union(*(terms_of[i] for i in inside))
        cues = {i: cue_score(kind, doc.text[spans[i].start:spans[i].end], question) for i in terms_of}
        typed = {i: 0.0 if kind is None or not (with_features or SENTENCE_WEIGHTS["answer_span"])
                 or highlight_span(question, kind, doc.text[spans[i].start:spans[i].end]) is None
                 else 1.0 for i in inside}
        share = passage.score / top_score
        for i in inside:
            span = spans[i]
            if (doc.doc_id, span.start) in seen:
                continue
            seen.add((doc.doc_id, span.start))
            opens_at = quote_start(doc.text, spans, i)
            lead = lead_sentence(doc.text, all_spans, span) if opens_at is None else None
            neighbours = [terms_of[j] for j in (i - 1, i + 1) if j in terms_of]
            feats = sentence_features(q_terms, q_bigrams, weights, total, terms_of[i], neighbours, title_terms,
                                      share, rank, cues[i], typed[i],
                                      1.0 if speaker and reports_speaker(speaker, doc.text[span.start:span.end]) else 0.0)
            coverage = feats["coverage"] + feats["title_coverage"]
            out.append(Candidate(passage=passage, doc=doc, start=span.start if opens_at is None else opens_at,
                                 end=span.end, score=sentence_score(feats), coverage=coverage,
                                 features=feats if with_features else None, standalone=opens_at is not None,
                                 lead=(lead.start, lead.end) if lead else None))
    return out


_LINE_BREAKS = "\n\r\u2028\u2029\x85\x0b\x0c"  # what ends a line for split_sentences


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind(c, 0, pos) for c in _LINE_BREAKS) + 1


def _line_end(text: str, pos: int) -> int:
    ends = [i for i in (text.find(c, pos) for c in _LINE_BREAKS) if i >= 0]
    return min(ends) if ends else len(text)


def _region(text: str, start: int, end: int, body_start: int) -> tuple[int, int]:
    """The whole lines around a passage plus one non-empty line either side (for its neighbours).

    Sentences never cross a line, so splitting just these lines gives the same sentences as
    splitting the whole article, at a fraction of the cost on long dispatches.
    """
    lo = _line_start(text, start)
    back = lo
    while back > 0 and text[back - 1] in _LINE_BREAKS:
        back -= 1
    if back > 0:
        lo = _line_start(text, back)
    hi = _line_end(text, end)
    ahead = hi
    while ahead < len(text) and text[ahead] in _LINE_BREAKS:
        ahead += 1
    if ahead < len(text):
        hi = _line_end(text, ahead)
    return max(lo, body_start), hi


def _whole_sentences(passage: Passage, spans: list[Span], region_lo: int, region_hi: int) -> bool:
    """Whether the passage lies in the split region and every span it touches is a sentence inside it."""
    if passage.start < region_lo or passage.end > region_hi:
        return False
    return all(s.kind == "sentence" and passage.start <= s.start and s.end <= passage.end
               for s in spans if s.end > passage.start and s.start < passage.end)


def _best_passage_coverage(q_terms: list[str], passages: list[Passage], docs: dict[str, DocumentRecord],
                           weights: dict[str, float], known: dict[int, set[str]] | None = None) -> float:
    """`known`: terms of title + passage by rank, where `_candidates` already had them."""
    total = sum(weights.get(t, 0.0) for t in q_terms) or 1.0
    best = 0.0
    for rank, p in enumerate(passages):
        doc = docs.get(p.doc_id)
        if doc is None:
            continue
        terms = known.get(rank) if known else None
        if terms is None:
            terms = set(analyze((doc.title or "") + "\n" + doc.text[p.start:p.end]))
        best = max(best, sum(weights.get(t, 0.0) for t in q_terms if t in terms) / total)
    return best


def _choose(candidates: list[Candidate], n: int) -> list[Candidate]:
    """The n best sentences, those that stand on their own first. One opening on "il" after a
    paragraph break comes with the sentence before it, cited just before it (the pair takes one of
    the n places, as a quote extended within its line would); one whose antecedent is beyond
    reach (a heading between) comes only when nothing else is left. Quotes never overlap."""
    chosen: list[Candidate] = []

    def free(start: int, end: int, doc_id: str) -> bool:
        return not any(c.doc.doc_id == doc_id and c.start < end and start < c.end for c in chosen)

    taken = 0  # sentences chosen; a lead and the sentence it names count as one, like an extended quote
    for cand in sorted(candidates, key=lambda c: (not c.standalone and c.lead is None, -c.score)):
        if taken >= n:
            break
        if not free(cand.start, cand.end, cand.doc.doc_id):
            continue
        if cand.standalone:
            chosen.append(cand)
        elif cand.lead is not None:
            if not free(*cand.lead, cand.doc.doc_id):
                continue
            chosen += [replace(cand, start=cand.lead[0], end=cand.lead[1], standalone=True, lead=None), cand]
        else:
            chosen.append(cand)  # sorted last: only when too few others are left
        taken += 1
    return chosen


# A further sentence the scorer rates this close to the first is kept even without a new term or
# type: the scorer cannot tell which of the two answers, and showing both is the honest choice.
# 0.9 chosen on the first half of PIAF dev: the sentences 0.8 would add hold the answer one time
# in ten (+0.014 answer-hit for +0.14 sentences per answer; docs/benchmarks.md, session 5).
CLOSE_CALL = 0.9


def _supporting(chosen: list[Candidate], question: str, q_terms: list[str],
                weights: dict[str, float]) -> list[Candidate]:
    """The best sentence, then each further one only when it adds support the ones before lack: a
    question term, or the asked-for kind of answer (a number, a date, a name) — or when the scorer
    rates it about as high as the first (CLOSE_CALL). A paragraph-opening pronoun always comes with
    the sentence it needs."""
    if len(chosen) <= 1:
        return chosen
    kind = question_type(question)
    kept = [chosen[0]]
    have = set(analyze(_quote(chosen[0])))
    has_kind = kind is not None and cue_score(kind, _quote(chosen[0]), question) > 0
    top = chosen[0].score
    for cand in chosen[1:]:
        terms = set(analyze(_quote(cand)))
        paired = cand.lead is not None and any(k.doc.doc_id == cand.doc.doc_id and (k.start, k.end) == cand.lead
                                               for k in kept)
        new_terms = any(weights.get(t, 0.0) > 0 and t in terms and t not in have for t in q_terms)
        cand_kind = kind is not None and cue_score(kind, _quote(cand), question) > 0
        close = top > 0 and cand.score >= CLOSE_CALL * top
        if paired or new_terms or (cand_kind and not has_kind) or close:
            kept.append(cand)
            have |= terms
            has_kind = has_kind or cand_kind
    return kept


def _quote(cand: Candidate) -> str:
    return cand.doc.text[cand.start:cand.end]


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
                    end=cand.end, score=round(float(cand.score), 4),
                    speaker=quote_speaker(doc.text, cand.start, cand.end),
                    dates=quote_dates(doc.text, cand.start, cand.end, doc.date))



def _one_line(text: str) -> str:
    return " ".join(text.split())
