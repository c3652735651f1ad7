"""Hybrid retrieval: dense (Chroma) + French BM25, fused on complete scores.

Naive reciprocal-rank fusion loses to BM25 alone on French questions when the embedding model
is noisy. Here every candidate from either side gets *both* scores (the dense
one from its stored vector, the keyword one from the BM25 matrix), so the fusion is a weighted
sum of comparable, normalised scores rather than a vote between two rank lists.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from assistant.language import question_language
from assistant.versions import VersionClusters, one_version_each
from index.french import analyze
from index.keyword import Filters, KeywordIndex
from index.records import ChunkRecord, DocumentRecord, Records
from index.stores import VectorStore

Mode = Literal["hybrid", "dense", "keyword"]

# Above this many chunks (~1 GB of records and vectors) the retriever reads SQLite per question.
PRELOAD_MAX_CHUNKS = 500_000


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    score: float
    dense: float
    keyword: float


# Bonus for question word pairs found side by side in a chunk (stemmed, stop words out), times their
# IDF share. Measured (docs/benchmarks.md, "Proximity bonus in the fusion"): PIAF MRR@10 +0.006 on
# each half of the dev questions, R@1 +0.014 / +0.010, nothing lost elsewhere. A constant, not a
# setting: no user has a reason to move it; tests turn it off to see the plain fusion.
PROXIMITY_WEIGHT = 0.2


@dataclass(frozen=True)
class FusionParams:
    dense_weight: float
    # A headline or a few keywords uses the dispatch's own words: keywords weigh more there.
    dense_weight_statements: float
    # The keyword index is French: an English question matches little but names there.
    dense_weight_english: float
    candidate_k: int
    proximity_weight: float = PROXIMITY_WEIGHT


class Retriever:
    """Finds passages; knows nothing of answers or of the web app."""

    def __init__(self, records: Records, vectors: VectorStore, keyword: KeywordIndex, embedder: Any,
                 fusion: FusionParams) -> None:
        self.records = records
        self.vectors = vectors
        self.keyword = keyword
        self.embedder = embedder
        self.fusion = fusion
        # Every chunk record and stored vector, read once per index generation (a Retriever lives
        # for one): fetching a question's ~100 candidates from SQLite cost more than the BM25
        # search itself. ~150 MB for 60k chunks.
        self._chunk_table: dict[str, ChunkRecord] | None = None
        self._vector_table: dict[str, np.ndarray] = {}
        self._table_lock = threading.Lock()
        self._versions: VersionClusters | None = None

    def retrieve(self, question: str, k: int, filters: Filters | None = None,
                 mode: Mode = "hybrid") -> list[Passage]:
        terms = analyze(question)
        cand = self.fusion.candidate_k
        dense_hits: list[tuple[str, float]] = []
        query_vec = None
        if mode in ("hybrid", "dense"):
            query_vec = self.embedder.embed_query(question)
            dense_hits = self.vectors.query(query_vec, cand if mode == "hybrid" else k, filters)
        # Hybrid needs every chunk's BM25 twice (the search, then the dense-only candidates): once.
        all_keyword = self.keyword.scores(terms) if mode == "hybrid" else None
        keyword_hits = self.keyword.search(terms, cand if mode == "hybrid" else k, filters, all_keyword) \
            if mode in ("hybrid", "keyword") else []
        ids = list(dict.fromkeys([c for c, _ in keyword_hits] + [c for c, _ in dense_hits]))
        if not ids:
            return []
        chunks = self._chunks(ids)
        ids = [i for i in ids if i in chunks]  # a chunk removed since the store answered
        ids = one_version_each(ids, chunks, self.versions, filters)
        dense = dict(dense_hits)
        keyword = dict(keyword_hits)
        if mode == "dense":  # the newest version of a cluster may not be among the hits
            dense = self._dense_scores(query_vec, [chunks[i] for i in ids], dense)
        elif mode == "keyword":
            keyword = self._keyword_scores(terms, ids, keyword)
        if mode == "hybrid":
            dense = self._dense_scores(query_vec, [chunks[i] for i in ids], dense)
            keyword = self._keyword_scores(terms, ids, keyword, all_keyword)
            weight = self.fusion_weight(question)
            scores = self._fuse(ids, dense, keyword, weight)
            if self.fusion.proximity_weight:
                near = self._proximity(terms, [chunks[i] for i in ids])
                scores = {i: scores[i] + self.fusion.proximity_weight * near[i] for i in ids}
        elif mode == "dense":
            scores = {i: dense.get(i, 0.0) for i in ids}
        else:
            scores = {i: keyword.get(i, 0.0) for i in ids}
        ranked = sorted(ids, key=lambda i: (-scores[i], i))[:k]
        return [Passage(chunk_id=i, doc_id=chunks[i].doc_id, start=chunks[i].start, end=chunks[i].end,
                        score=float(scores[i]), dense=float(dense.get(i, 0.0)),
                        keyword=float(keyword.get(i, 0.0))) for i in ranked]

    @property
    def versions(self) -> VersionClusters:
        """The version clusters of this generation, read on first use."""
        if self._versions is None:
            self._versions = VersionClusters(self.records)
        return self._versions

    def fusion_weight(self, question: str) -> float:
        """The dense side's share of the fused score for this query."""
        if question_language(question) == "en":
            return self.fusion.dense_weight_english
        return self.fusion.dense_weight if is_question(question) else self.fusion.dense_weight_statements

    def _tables(self) -> dict[str, ChunkRecord]:
        with self._table_lock:
            if self._chunk_table is None and len(self.keyword) > PRELOAD_MAX_CHUNKS:
                self._chunk_table = {}  # too large to hold: every lookup goes to SQLite
            if self._chunk_table is None:
                table = {}
                for batch in self.records.iter_chunks():
                    table.update((c.chunk_id, c) for c in batch)
                self._vector_table = self.records.vectors()
                self._chunk_table = table
            return self._chunk_table

    def _chunks(self, ids: list[str]) -> dict[str, ChunkRecord]:
        table = self._tables()
        out = {i: table[i] for i in ids if i in table}
        if len(out) < len(ids):  # written by another process since this generation was read
            out.update(self.records.chunks(i for i in ids if i not in out))
        return out

    def _vectors(self, embed_hashes: list[str]) -> dict[str, np.ndarray]:
        self._tables()
        out = {h: self._vector_table[h] for h in embed_hashes if h in self._vector_table}
        if len(out) < len(set(embed_hashes)):
            out.update(self.records.vectors(h for h in embed_hashes if h not in out))
        return out

    def _dense_scores(self, query_vec: np.ndarray | None, chunks: list[ChunkRecord],
                      known: dict[str, float]) -> dict[str, float]:
        missing = [c for c in chunks if c.chunk_id not in known]
        if query_vec is None or not missing:
            return known
        vectors = self._vectors([c.embed_hash for c in missing])
        out = dict(known)
        for c in missing:
            vec = vectors.get(c.embed_hash)
            if vec is not None:
                out[c.chunk_id] = float(np.dot(vec, query_vec))
        return out

    def _keyword_scores(self, terms: list[str], ids: list[str], known: dict[str, float],
                        all_scores: np.ndarray | None = None) -> dict[str, float]:
        missing = [i for i in ids if i not in known]
        if not missing:
            return known
        out = dict(known)
        out.update(self.keyword.score_chunks(terms, missing, all_scores))
        return out

    def _proximity(self, terms: list[str], chunks: list[ChunkRecord]) -> dict[str, float]:
        """IDF-weighted share of the question's adjacent term pairs that a chunk also has adjacent."""
        q_terms = list(dict.fromkeys(terms))
        pairs = list(zip(q_terms, q_terms[1:]))
        if not pairs:
            return {c.chunk_id: 0.0 for c in chunks}
        idf = self.keyword.term_weights(q_terms)
        weight = {p: idf[p[0]] + idf[p[1]] for p in pairs}
        total = sum(weight.values()) or 1.0
        needles = {p: f" {p[0]} {p[1]} " for p in pairs}
        out = {}
        for c in chunks:
            hay = f" {c.terms} "
            out[c.chunk_id] = sum(w for p, w in weight.items() if needles[p] in hay) / total
        return out

    def _fuse(self, ids: list[str], dense: dict[str, float], keyword: dict[str, float],
              w: float) -> dict[str, float]:
        kw = np.asarray([keyword.get(i, 0.0) for i in ids], dtype=np.float64)
        dn = np.asarray([dense.get(i, 0.0) for i in ids], dtype=np.float64)
        kw_top = kw.max() if len(kw) and kw.max() > 0 else 1.0
        kw_n = kw / kw_top
        # Dense similarities crowd into a narrow band; rescale to the candidates' own range.
        lo, hi = (dn.min(), dn.max()) if len(dn) else (0.0, 1.0)
        dn_n = (dn - lo) / (hi - lo) if hi > lo else np.zeros_like(dn)
        fused = (1 - w) * kw_n + w * dn_n
        return dict(zip(ids, fused.tolist()))


_QUESTION_START = re.compile(
    r"\s*(qui|que|qu'|qu’|quoi|quel|quelle|quels|quelles|quand|où|ou|comment|combien|pourquoi|lequel|laquelle|"
    r"lesquels|lesquelles|est-ce|what|who|whom|whose|when|where|why|how|which|is|are|was|were|do|does|did|"
    r"can|could|should|would|will)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """A question (paraphrases its answer) rather than a statement or keywords (quote the dispatch)."""
    stripped = text.strip()
    return stripped.endswith("?") or _QUESTION_START.match(stripped) is not None


def question_weights(keyword: KeywordIndex, terms: list[str]) -> dict[str, float]:
    """IDF of each question term; a term found nowhere in the index gets the IDF of a term in no chunk.

    Left at 0, an unknown term would vanish from coverage, and a question about another subject
    would look fully covered by the one word it shares with the corpus.
    """
    weights = keyword.term_weights(terms)
    n = len(keyword)
    unseen = float(np.log1p((n + 0.5) / 0.5)) if n else 1.0
    return {t: (w if w > 0 else unseen) for t, w in weights.items()}


def documents_for(records: Records, passages: list[Passage]) -> dict[str, DocumentRecord]:
    return {d.doc_id: d for d in records.documents(p.doc_id for p in passages)}
