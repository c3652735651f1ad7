"""The composition root: settings -> embedder, stores, indexer, retriever, answerer.

Both doors (CLI and web app) build exactly one Pipeline from one Settings and go through it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.environment import quiet_environment
from assistant.settings import Settings

if TYPE_CHECKING:  # the rooms behind the pipeline load on first use, not when it is imported
    from assistant.answer import Answer
    from assistant.generate import Generator
    from assistant.retrieval import Retriever
    from assistant.timeline import TimelineEntry
    from index.dispatch import Dispatch
    from index.indexer import Indexer, SyncReport
    from index.keyword import Filters
    from index.stores import ChromaConfig

# Passages ranked per question; the answer reads the top k of them and retrieved_doc_ids the
# documents of all of them: 40 passages held 10 distinct documents for R@10 on PIAF and the
# headline sets (docs/benchmarks.md, "retrieved_doc_ids holds 10 distinct documents").
RANKING_POOL = 40


@dataclass(frozen=True)
class QueryFilters:
    date_from: str | None = None   # ISO date, any precision
    date_to: str | None = None
    sources: tuple[str, ...] = ()


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        from index.embedding import Embedder
        from index.records import Records

        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.records = Records(settings.records_path)
        self.embedder = Embedder(settings.embedding_model, settings.embedding_backend,
                                 settings.embedding_batch_size, settings.embedding_threads,
                                 settings.embedding_device)
        self._lock = threading.RLock()
        self._indexer: Indexer | None = None
        self._retriever: Retriever | None = None
        self._seen_generation: int | None = None
        self._generator: Generator | None = None

    # -- building blocks ------------------------------------------------------------------------
    @property
    def chroma_config(self) -> ChromaConfig:
        from index.stores import ChromaConfig

        s = self.settings
        return ChromaConfig(mode=s.store_mode, path=s.chroma_path, host=s.chroma_host, port=s.chroma_port,
                            collection=s.collection)

    @property
    def indexer(self) -> Indexer:
        if self._indexer is None:
            from index.chunk_ids import ChunkingConfig
            from index.indexer import Indexer

            s = self.settings
            self._indexer = Indexer(
                records=self.records, chroma=self.chroma_config, keyword_dir=s.data_dir / "keyword",
                embedder=self.embedder,
                chunking=ChunkingConfig(s.chunk_max_tokens, s.chunk_overlap_sentences, s.embed_titles),
                max_file_bytes=s.max_file_bytes, lock_path=s.data_dir / "index.lock",
                lock_timeout=s.lock_timeout, bm25_k1=s.bm25_k1, bm25_b=s.bm25_b,
                loader_timeout=s.loader_timeout, follow_symlinks=s.follow_symlinks,
                encoder_workers=s.index_workers)
        return self._indexer

    def retriever(self) -> Retriever:
        """The retriever over the current index; reopened when another process changed it."""
        with self._lock:
            generation = self.records.generation
            if self._retriever is None or generation != self._seen_generation:
                if self._adopt_versions():
                    generation = self.records.generation
                self._retriever = self._open_retriever()
                self._seen_generation = generation
            return self._retriever

    def _adopt_versions(self) -> int:
        """An index from before version clusters gets its signatures on open (once). Never waits: a
        writer holding the lock adopts them itself (every sync does), and answers meanwhile see every
        dispatch alone."""
        if not self.records.unsigned_documents():
            return 0
        from index.locking import IndexLockedError, writer_lock
        from index.version_links import adopt_versions

        try:
            with writer_lock(self.settings.data_dir / "index.lock", 0):
                return adopt_versions(self.records)
        except IndexLockedError:
            return 0

    def _open_retriever(self) -> Retriever:
        from assistant.retrieval import FusionParams, Retriever
        from index.keyword import KeywordIndex
        from index.stores import release_clients
        from index.vector_sync import open_vector_store

        s = self.settings
        self.indexer.check_identity(write=False)
        if self._retriever is not None and s.store_mode == "embedded":
            release_clients()  # an embedded client caches the collection; reopen to see new writes
        vectors = open_vector_store(self.chroma_config, self.records, lock_path=s.data_dir / "index.lock")
        keyword = KeywordIndex.open(self.records, s.data_dir / "keyword", s.bm25_k1, s.bm25_b, s.bm25_doc_weight,
                                    lock_path=s.data_dir / "index.lock")  # a reader: saves only under the lock
        if self._indexer is not None:
            self._indexer.use_vectors(vectors)
        return Retriever(self.records, vectors, keyword, self.embedder,
                         FusionParams(dense_weight=s.dense_weight, candidate_k=s.candidate_k,
                                      dense_weight_statements=s.dense_weight_statements,
                                      dense_weight_english=s.dense_weight_english))

    # -- operations -----------------------------------------------------------------------------
    def index(self, paths: Iterable[Path] | None = None, rebuild: bool = False, reset: bool = False,
              progress: Callable[[int, int, str], None] | None = None,
              transform: Callable[[Dispatch], Dispatch] | None = None) -> SyncReport:
        if self.embedder.notice:
            import sys

            print(f"note: {self.embedder.notice}", file=sys.stderr, flush=True)
        if reset:
            self.indexer.reset()
        report = self.indexer.sync(list(paths) if paths else None, progress=progress, transform=transform,
                                   rebuild=rebuild)
        with self._lock:
            self._retriever = None
        return report

    def ask(self, question: str, filters: QueryFilters | None = None, history: list[str] | None = None,
            mode: str = "hybrid", k: int | None = None, generative: bool | None = None) -> Answer:
        """The final Answer of `ask_stream` (its text deltas dropped)."""
        answer = None
        for item in self.ask_stream(question, filters, history, mode, k, generative):
            if not isinstance(item, str):
                answer = item
        assert answer is not None, "ask_stream always ends with an Answer"
        return answer

    def ask_stream(self, question: str, filters: QueryFilters | None = None, history: list[str] | None = None,
                   mode: str = "hybrid", k: int | None = None,
                   generative: bool | None = None) -> Iterator[str | Answer]:
        """Text deltas (`str`) while a language model writes, then exactly one final, verified Answer.

        With llm = none (or generative=False) there are no deltas; a model that fails yields the
        extractive Answer with `fallback` set and the reason.
        """
        from assistant.answer import AnswerParams, compose
        from assistant.background import REFERENCE_SENTENCES
        from assistant.followup import follow_up_of
        from assistant.retrieval import documents_for, question_weights
        from assistant.versions import add_versions

        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        started = time.perf_counter()
        retriever = self.retriever()
        kf = _keyword_filters(filters) if filters is not None else None

        earlier = follow_up_of(question, history or [])
        query = contextual_query(question, [earlier] if earlier else [])
        k = k or self.settings.top_k
        # A deeper pool than the answer needs, so retrieved_doc_ids holds 10 distinct documents
        # even when several top passages come from one article.
        pool = retriever.retrieve(query, max(k, 5, RANKING_POOL), kf, mode)
        passages = pool[:max(k, 5)]
        retrieved_at = time.perf_counter()
        docs = documents_for(self.records, passages)
        weights = question_weights(retriever.keyword, list(dict.fromkeys(_analyze(query))))
        similarity, background = None, 1.0
        if mode != "keyword":
            query_vector = self.embedder.embed_query(query)  # cached: retrieval embedded it already
            background = float(np.mean(self.embedder.reference_vectors(REFERENCE_SENTENCES) @ query_vector))

            def similarity(texts: Sequence[str]) -> np.ndarray:
                return self.embedder.passage_similarity(list(texts), query_vector)

        answer = compose(question, passages, docs, weights,
                         AnswerParams(max_sentences=self.settings.answer_max_sentences,
                                      abstain_threshold=self.settings.abstain_threshold,
                                      abstain_dense_margin=self.settings.abstain_dense_margin),
                         similarity, background)
        answer.retrieved_doc_ids = list(dict.fromkeys(p.doc_id for p in pool))[:max(k, 10)]
        answer.follow_up_of = earlier
        answer.timings_ms = _timings(started, retrieved_at, time.perf_counter())
        add_versions(answer, retriever.versions)
        if self.settings.llm == "none" or generative is False or not passages:
            yield answer
            return
        from assistant.llm.prompt import prompt_sources

        sources = prompt_sources(passages[:k], docs)
        for item in self.generator.stream(question, sources, answer, list(history or []) if earlier else [],
                                          retriever.keyword.term_weights):
            if not isinstance(item, str):
                add_versions(item, retriever.versions)
                item.timings_ms = _timings(started, retrieved_at, time.perf_counter())
                item.follow_up_of = earlier
            yield item

    def timeline(self, query: str, filters: QueryFilters | None = None, limit: int = 20,
                 mode: str = "hybrid") -> list[TimelineEntry]:
        """The dispatches matching `query`, one key sentence each, ordered by the date of what they
        report (assistant/timeline.py)."""
        from assistant.background import REFERENCE_SENTENCES
        from assistant.language import question_language
        from assistant.retrieval import documents_for, question_weights
        from assistant.timeline import build_timeline

        query = query.strip()
        if not query:
            raise ValueError("the query is empty")
        retriever = self.retriever()
        kf = _keyword_filters(filters) if filters is not None else None
        pool = retriever.retrieve(query, RANKING_POOL, kf, mode)
        weights = question_weights(retriever.keyword, list(dict.fromkeys(_analyze(query))))
        dense_floor = None
        # A French query lists on its words alone: on 2,000 news articles the model's similarity alone
        # listed car-industry dispatches for "Carlos Ghosn". An English query's words are not in the text.
        if mode != "keyword" and question_language(query) != "fr":
            background = self.embedder.reference_vectors(REFERENCE_SENTENCES) @ self.embedder.embed_query(query)
            dense_floor = float(np.mean(background)) + self.settings.abstain_dense_margin
        return build_timeline(query, pool, documents_for(self.records, pool), weights, dense_floor, limit)

    @property
    def generator(self) -> Generator:
        """The language-model side (llm != none); a missing package or model file raises LLMConfigError."""
        with self._lock:
            if self._generator is None:
                from assistant.llm.generate import Generator

                generator = Generator.from_settings(self.settings, self.embedder.embed)
                generator.llm  # noqa: B018 - configuration errors surface now, not mid-answer
                self._generator = generator
            return self._generator

    def llm_check(self) -> str | None:
        """Start-up check for `serve`/`ask`: None when llm = none or the model answers, else why not."""
        if self.settings.llm == "none":
            return None
        return self.generator.check()

    def status(self) -> dict[str, Any]:
        docs, chunks = self.records.counts()
        manifest = self.records.manifest()
        last = manifest.get("last_indexed_at")
        return {
            "documents": docs, "chunks": chunks,
            "embedding_model": manifest.get("embedding_model", self.embedder.identity),
            "dimension": int(manifest["dimension"]) if "dimension" in manifest else None,
            "chunking": manifest.get("chunking"),
            "store_mode": self.settings.store_mode, "store_location": self.chroma_config.location,
            "data_dir": str(self.settings.data_dir.resolve()),
            "roots": self.records.roots(),
            "last_indexed_at": _iso(float(last)) if last else None,
            "generation": self.records.generation,
        }

    def documents(self) -> list[dict[str, Any]]:
        """Every document's metadata, with its version cluster's id (its own id when alone)."""
        from assistant.versions import VersionClusters

        self._adopt_versions()
        clusters = VersionClusters(self.records)
        return [{**d, "cluster_id": clusters.cluster_id(d["doc_id"])} for d in self.records.document_summaries()]

    def versions(self, doc_id: str) -> dict[str, Any] | None:
        """A document's version cluster: its id and every member (the document too), newest first;
        None for an unknown id."""
        from assistant.versions import VersionClusters
        from index.versions import newest_key

        if self.records.document(doc_id) is None:
            return None
        self._adopt_versions()
        clusters = VersionClusters(self.records)
        docs = sorted(self.records.documents(clusters.members_of(doc_id)),
                      key=lambda d: newest_key(d.doc_id, d.date), reverse=True)
        return {"doc_id": doc_id, "cluster_id": clusters.cluster_id(doc_id),
                "versions": [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "source": d.source,
                              "source_path": d.source_path} for d in docs]}

    def is_empty(self) -> bool:
        """No document indexed yet."""
        return self.records.counts()[0] == 0

    @property
    def generation(self) -> int:
        """Bumped by every change to the index, by this process or another: a view compares it to
        the one it last showed to know when to read again."""
        return self.records.generation

    def document(self, doc_id: str) -> dict[str, Any] | None:
        d = self.records.document(doc_id)
        if d is None:
            return None
        return {"doc_id": d.doc_id, "title": d.title, "date": d.date, "source": d.source,
                "language": d.language, "chunks": d.n_chunks, "source_path": d.source_path,
                "indexed_at": _iso(d.indexed_at), "text": d.text}

    def remove(self, doc_id: str) -> bool:
        removed = self.indexer.remove(doc_id)
        with self._lock:
            self._retriever = None
        return removed

    def roots(self) -> list[dict[str, Any]]:
        """Every recorded root: its path, how many documents came from it, and whether it can be synced."""
        from index.walk import root_problem

        counts: dict[str, int] = {}
        for _, root, _ in self.records.document_hashes().values():
            counts[root] = counts.get(root, 0) + 1
        return [{"path": r, "documents": counts.get(r, 0), "problem": root_problem(Path(r))}
                for r in self.records.roots()]

    def forget_root(self, path: Path | str) -> list[str] | None:
        """Forget a root and remove its documents; the removed doc ids, None when it is not a root."""
        removed = self.indexer.forget_root(path)
        with self._lock:
            self._retriever = None
        return removed

    def search(self, query: str, filters: QueryFilters | None = None, k: int = 5,
               mode: str = "hybrid") -> list[dict[str, Any]]:
        """The `k` best passages for `query`, as the retriever ranks them (no answer composed): doc_id,
        title, date, source, start, end (document offsets), text == the dispatch's text[start:end], score."""
        from assistant.retrieval import documents_for

        query = query.strip()
        if not query:
            raise ValueError("the query is empty")
        kf = _keyword_filters(filters) if filters is not None else None
        passages = self.retriever().retrieve(query, k, kf, mode)
        docs = documents_for(self.records, passages)
        return [{"doc_id": p.doc_id, "title": docs[p.doc_id].title, "date": docs[p.doc_id].date,
                 "source": docs[p.doc_id].source, "start": p.start, "end": p.end,
                 "text": docs[p.doc_id].text[p.start:p.end], "score": round(p.score, 4)}
                for p in passages if p.doc_id in docs]

    def close(self) -> None:
        if self._indexer is not None:
            self._indexer.close()
        self.records.close()


def _keyword_filters(filters: QueryFilters) -> Filters:
    """The user's filters as the stores take them: ISO dates (any precision) to yyyymmdd bounds."""
    from index.dates import date_range
    from index.keyword import Filters

    lo = date_range(filters.date_from) if filters.date_from else None
    hi = date_range(filters.date_to) if filters.date_to else None
    if filters.date_from and lo is None:
        raise ValueError(f"date_from: '{filters.date_from}' is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)")
    if filters.date_to and hi is None:
        raise ValueError(f"date_to: '{filters.date_to}' is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)")
    return Filters(date_from=lo[0] if lo else None, date_to=hi[1] if hi else None, sources=tuple(filters.sources))


def contextual_query(question: str, history: list[str]) -> str:
    """A follow-up borrows the previous question's words, so "Et le Kremlin ?" keeps its subject.
    `ask_stream` passes history only for an elliptic question (assistant/followup.py)."""
    if not history:
        return question
    return f"{question} {history[-1]}"


def _analyze(text: str) -> list[str]:
    from index.french import analyze

    return analyze(text)


def _timings(started: float, retrieved_at: float, done: float) -> dict[str, float]:
    return {"retrieve": round((retrieved_at - started) * 1000, 2), "answer": round((done - retrieved_at) * 1000, 2),
            "total": round((done - started) * 1000, 2)}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


def open_pipeline(settings: Settings) -> Pipeline:
    """The library's entry point (the CLI's is assistant.cli.main): quiet first, then build."""
    quiet_environment()
    return Pipeline(settings)
