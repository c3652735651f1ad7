"""BM25 keyword index over analyzed French terms, derived from the records and persisted.

Our own BM25 rather than llama-index's BM25Retriever: that one forgets its stemmer when
persisted and cannot be updated incrementally. The term weights are precomputed into a sparse
matrix, so a query is a sum of a few rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.locking import IndexLockedError, writer_lock
from index.records import Records

FORMAT_VERSION = 3  # 3: a checksum over both files, so any damage is detected and rebuilt


@dataclass(frozen=True)
class Filters:
    """Date range (inclusive, yyyymmdd ints) and source; a partial date matches if it overlaps."""

    date_from: int | None = None
    date_to: int | None = None
    sources: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.date_from is not None or self.date_to is not None or bool(self.sources)


class KeywordIndex:
    def __init__(self, chunk_ids: list[str], chunk_doc: np.ndarray, doc_ids: list[str],
                 doc_date_min: np.ndarray, doc_date_max: np.ndarray, doc_source: list[str],
                 vocab: dict[str, int], idf: np.ndarray, weights, generation: int,
                 k1: float, b: float, doc_weights=None) -> None:
        self.chunk_ids = chunk_ids
        self.chunk_doc = chunk_doc
        self.doc_ids = doc_ids
        self.doc_date_min = doc_date_min
        self.doc_date_max = doc_date_max
        self.doc_source = doc_source
        self.vocab = vocab
        self.idf = idf
        self.weights = weights  # csr (n_terms x n_chunks)
        # Whole-document BM25 (terms x docs): a headline or a question about an article as a whole
        # matches words spread over several chunks; chunk BM25 alone ranks a document by one chunk.
        self.doc_weights = doc_weights
        # Share of a chunk's score taken from its document: the setting bm25_doc_weight, given to
        # open(); an index built or loaded on its own ranks by chunk BM25 alone.
        self.doc_weight = 0.0
        self.generation = generation
        self.k1 = k1
        self.b = b
        self._column: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.chunk_ids)

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, records: Records, k1: float, b: float) -> KeywordIndex:
        from scipy import sparse

        generation = records.generation
        docs = {d.doc_id: d for d in _doc_meta(records)}
        doc_ids = sorted(docs)
        doc_index = {d: i for i, d in enumerate(doc_ids)}
        vocab: dict[str, int] = {}
        chunk_ids: list[str] = []
        chunk_doc: list[int] = []
        rows: list[int] = []
        cols: list[int] = []
        lengths: list[int] = []
        for batch in records.iter_chunks():
            for chunk in batch:
                col = len(chunk_ids)
                chunk_ids.append(chunk.chunk_id)
                chunk_doc.append(doc_index.get(chunk.doc_id, -1))
                terms = chunk.terms.split()
                lengths.append(len(terms))
                for term in terms:
                    tid = vocab.get(term)
                    if tid is None:
                        tid = vocab[term] = len(vocab)
                    rows.append(tid)
                    cols.append(col)
        n_chunks = len(chunk_ids)
        tf = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(vocab), n_chunks))
        tf.sum_duplicates()
        doc_tf = _doc_term_counts(tf, np.asarray(chunk_doc, dtype=np.int64), len(doc_ids))
        df = np.diff(tf.indptr).astype(np.float64)
        idf = np.log1p((n_chunks - df + 0.5) / (df + 0.5)).astype(np.float32)
        dl = np.asarray(lengths, dtype=np.float32)
        avgdl = float(dl.mean()) if n_chunks else 1.0
        norm = (k1 * (1 - b + b * dl / max(avgdl, 1e-9))).astype(np.float32)
        data = tf.data
        chunk_of_entry = tf.indices
        term_of_entry = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
        tf.data = (idf[term_of_entry] * data * (k1 + 1) / (data + norm[chunk_of_entry])).astype(np.float32)
        doc_weights = _bm25(doc_tf, k1, b)
        metas = [docs[d] for d in doc_ids]
        return cls(
            chunk_ids=chunk_ids, chunk_doc=np.asarray(chunk_doc, dtype=np.int64), doc_ids=doc_ids,
            doc_date_min=np.asarray([m.date_min if m.date_min is not None else -1 for m in metas], dtype=np.int64),
            doc_date_max=np.asarray([m.date_max if m.date_max is not None else -1 for m in metas], dtype=np.int64),
            doc_source=[m.source or "" for m in metas], vocab=vocab, idf=idf, weights=tf,
            generation=generation, k1=k1, b=b, doc_weights=doc_weights)

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"keyword.{os.getpid()}.tmp.npz"
        # Write then rename: a kill mid-save leaves the previous file, which the generation check discards
        # (or, between the two renames, the checksum).
        buf = io.BytesIO()
        np.savez(buf, data=self.weights.data, indices=self.weights.indices, indptr=self.weights.indptr,
                 shape=np.asarray(self.weights.shape), idf=self.idf, chunk_doc=self.chunk_doc,
                 doc_date_min=self.doc_date_min, doc_date_max=self.doc_date_max,
                 ddata=self.doc_weights.data, dindices=self.doc_weights.indices,
                 dindptr=self.doc_weights.indptr, dshape=np.asarray(self.doc_weights.shape))
        arrays = buf.getvalue()
        tmp.write_bytes(arrays)
        meta = {"format": FORMAT_VERSION, "generation": self.generation, "k1": self.k1, "b": self.b,
                "chunk_ids": self.chunk_ids, "doc_ids": self.doc_ids, "doc_source": self.doc_source,
                "vocab": sorted(self.vocab, key=self.vocab.__getitem__)}
        meta["checksum"] = _checksum(arrays, meta)
        meta_tmp = folder / f"keyword.{os.getpid()}.tmp.json"
        meta_tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "keyword.npz")
        meta_tmp.replace(folder / "keyword.json")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        """The saved index, or None when it is missing, of another format, or damaged in any way
        (truncated, edited, a field missing, arrays that do not fit together): the caller rebuilds it
        from the records."""
        try:
            meta = json.loads((folder / "keyword.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
                return None
            arrays = (folder / "keyword.npz").read_bytes()
            if meta.get("checksum") != _checksum(arrays, {k: v for k, v in meta.items() if k != "checksum"}):
                return None
            return cls._from_saved(meta, np.load(io.BytesIO(arrays)))
        except Exception:  # noqa: BLE001 - a derived file: any failure to read it means "rebuild"
            return None

    @classmethod
    def _from_saved(cls, meta: dict, arrays) -> KeywordIndex | None:
        from scipy import sparse

        weights = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                    shape=tuple(arrays["shape"]))
        doc_weights = sparse.csr_matrix((arrays["ddata"], arrays["dindices"], arrays["dindptr"]),
                                        shape=tuple(arrays["dshape"]))
        weights.check_format(full_check=True)
        doc_weights.check_format(full_check=True)
        n_terms, n_chunks, n_docs = len(meta["vocab"]), len(meta["chunk_ids"]), len(meta["doc_ids"])
        chunk_doc = arrays["chunk_doc"]
        if (weights.shape != (n_terms, n_chunks) or doc_weights.shape != (n_terms, n_docs)
                or len(arrays["idf"]) != n_terms or len(chunk_doc) != n_chunks
                or len(arrays["doc_date_min"]) != n_docs or len(arrays["doc_date_max"]) != n_docs
                or len(meta["doc_source"]) != n_docs or (n_chunks and int(chunk_doc.max()) >= n_docs)):
            return None
        return cls(chunk_ids=list(meta["chunk_ids"]), chunk_doc=chunk_doc, doc_ids=list(meta["doc_ids"]),
                   doc_date_min=arrays["doc_date_min"], doc_date_max=arrays["doc_date_max"],
                   doc_source=list(meta["doc_source"]), vocab={t: i for i, t in enumerate(meta["vocab"])},
                   idf=arrays["idf"], weights=weights, generation=int(meta["generation"]),
                   k1=float(meta["k1"]), b=float(meta["b"]), doc_weights=doc_weights)

    @classmethod
    def open(cls, records: Records, folder: Path, k1: float, b: float, doc_weight: float,
             lock_path: Path | None = None) -> KeywordIndex:
        """The persisted index when it matches the records' generation, else a rebuilt one, scoring
        with `doc_weight` of each document's BM25. `lock_path`: the caller is a reader (see refresh)."""
        index = cls.refresh(records, folder, k1, b, lock_path)
        index.doc_weight = doc_weight
        return index

    @classmethod
    def refresh(cls, records: Records, folder: Path, k1: float, b: float,
                lock_path: Path | None = None) -> KeywordIndex:
        """Bring the saved index in line with the records (rebuilt when it lags).

        Without `lock_path` the caller holds the writer lock and a rebuilt index is saved. With it
        (a reader: `ask`, each `serve` worker), a rebuilt index is saved only if the writer lock is
        free at once and the records did not move meanwhile; else it serves from memory and the
        running writer saves its own when it finishes: readers never write the folder unlocked.
        """
        existing = cls.load(folder)
        if (existing is not None and existing.generation == records.generation
                and math.isclose(existing.k1, k1) and math.isclose(existing.b, b)):
            return existing
        fresh = cls.build(records, k1=k1, b=b)
        if lock_path is None:
            fresh.save(folder)
            return fresh
        try:
            with writer_lock(lock_path, 0):
                if records.generation == fresh.generation:
                    fresh.save(folder)
        except IndexLockedError:
            pass
        return fresh

    # -- querying -----------------------------------------------------------------------------
    def term_weights(self, terms: list[str]) -> dict[str, float]:
        return {t: float(self.idf[self.vocab[t]]) if t in self.vocab else 0.0 for t in terms}

    def allowed_chunks(self, filters: Filters) -> np.ndarray | None:
        if not filters.active or not len(self.chunk_ids):
            return None
        ok = np.ones(len(self.doc_ids), dtype=bool)
        if filters.date_from is not None:
            ok &= (self.doc_date_max >= filters.date_from) & (self.doc_date_max >= 0)
        if filters.date_to is not None:
            ok &= (self.doc_date_min <= filters.date_to) & (self.doc_date_min >= 0)
        if filters.sources:
            wanted = {s.casefold() for s in filters.sources}
            ok &= np.asarray([s.casefold() in wanted for s in self.doc_source], dtype=bool)
        return ok[self.chunk_doc]

    def scores(self, terms: list[str]) -> np.ndarray | None:
        """Every chunk's score (what `search` ranks), or None when no term is indexed.

        Computed once per question and handed to `search` and `score_chunks`: each would otherwise
        sum the same matrix rows over the whole index again.
        """
        ids = self._term_ids(terms)
        if not ids or not len(self.chunk_ids):
            return None
        return self._scores(ids)

    def score_chunks(self, terms: list[str], chunk_ids: list[str],
                     scores: np.ndarray | None = None) -> dict[str, float]:
        """BM25 scores of given chunks (for fusing candidates the keyword side did not return);
        `scores` is `self.scores(terms)` when the caller already has it."""
        if self._column is None:
            self._column = {c: i for i, c in enumerate(self.chunk_ids)}
        ids = self._term_ids(terms)
        cols = [self._column[c] for c in chunk_ids if c in self._column]
        if not ids or not cols:
            return {c: 0.0 for c in chunk_ids}
        sub = (self._scores(ids) if scores is None else scores)[cols]
        found = dict(zip((self.chunk_ids[c] for c in cols), sub.tolist()))
        return {c: found.get(c, 0.0) for c in chunk_ids}

    def _term_ids(self, terms: list[str]) -> list[int]:
        return [self.vocab[t] for t in dict.fromkeys(terms) if t in self.vocab]

    def _scores(self, term_ids: list[int]) -> np.ndarray:
        """Per chunk: its own BM25 mixed with its document's, both scaled to the chunk scale."""
        chunk = np.asarray(self.weights[term_ids].sum(axis=0)).ravel()
        if self.doc_weights is None or not self.doc_weight or not len(self.doc_ids):
            return chunk
        doc = np.append(np.asarray(self.doc_weights[term_ids].sum(axis=0)).ravel(), 0.0)
        top_chunk, top_doc = float(chunk.max()), float(doc.max())
        if top_chunk <= 0 or top_doc <= 0:
            return chunk
        # chunk_doc of -1 (a chunk whose document row vanished) reads the appended 0.
        return (1 - self.doc_weight) * chunk + self.doc_weight * doc[self.chunk_doc] * (top_chunk / top_doc)

    def search(self, terms: list[str], k: int, filters: Filters | None = None,
               scores: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk_id, bm25 score), best first; chunks with no query term are left out.
        `scores` is `self.scores(terms)` when the caller already has it."""
        ids = self._term_ids(terms)
        if not ids or not len(self.chunk_ids):
            return []
        if scores is None:
            scores = self._scores(ids)
        mask = self.allowed_chunks(filters) if filters else None
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.chunk_ids[i], float(scores[i])) for i in top]


def _checksum(arrays: bytes, meta: dict) -> str:
    """sha256 of the arrays file and the metadata (without its checksum), as saved."""
    digest = hashlib.sha256(arrays)
    digest.update(json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _doc_term_counts(tf, chunk_doc: np.ndarray, n_docs: int):
    """Term counts per document: the sum of its chunks' counts (terms x docs)."""
    from scipy import sparse

    valid = chunk_doc >= 0
    cols = np.nonzero(valid)[0]
    assign = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (cols, chunk_doc[valid])),
                               shape=(tf.shape[1], n_docs))
    out = (tf @ assign).tocsr()
    out.sum_duplicates()
    return out


def _bm25(tf, k1: float, b: float):
    """BM25 weights of a raw terms x items count matrix (a copy)."""
    out = tf.copy().astype(np.float32)
    n = out.shape[1]
    df = np.diff(out.indptr).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    lengths = np.asarray(out.sum(axis=0)).ravel().astype(np.float32)
    avg = float(lengths.mean()) if n else 1.0
    norm = (k1 * (1 - b + b * lengths / max(avg, 1e-9))).astype(np.float32)
    term_of_entry = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
    out.data = (idf[term_of_entry] * out.data * (k1 + 1) / (out.data + norm[out.indices])).astype(np.float32)
    return out


@dataclass(frozen=True)
class _DocMeta:
    doc_id: str
    date_min: int | None
    date_max: int | None
    source: str | None


def _doc_meta(records: Records) -> list[_DocMeta]:
    return [_DocMeta(*row) for row in records.doc_meta()]
