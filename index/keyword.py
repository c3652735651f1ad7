"""BM25 keyword index over analyzed French terms, derived from the records, on disk in tantivy.

The postings live in tantivy (index/keyword_store.py), which adds and deletes a dispatch's chunks
incrementally and lets several processes read while one writes; the terms are the project's own
French analysis. A chunk's score mixes its own BM25 with its whole document's (bm25_doc_weight).
The saved generation (keyword.json) says which records the index matches; a lagging one is
brought in step by comparing keys, never trusted as a source of its own.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from index import keyword_store
from index.errors import DispatchQAError
from index.locking import IndexLockedError, writer_lock
from index.records import Records

FORMAT_VERSION = 4  # 4: tantivy postings (3: a scipy matrix rebuilt at every sync)
TANTIVY_K1, TANTIVY_B = 1.2, 0.75  # tantivy's BM25 constants: its Python binding cannot set others


@dataclass(frozen=True)
class Filters:
    """Date range (inclusive, yyyymmdd ints) and source; a partial date matches if it overlaps."""

    date_from: int | None = None
    date_to: int | None = None
    sources: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.date_from is not None or self.date_to is not None or bool(self.sources)


class KeywordSettingsError(DispatchQAError):
    pass


@dataclass(frozen=True)
class Changes:
    """A writer's run: the records' generation when it began, and the dispatches it wrote or deleted."""

    since: int
    doc_ids: list[str]


@dataclass(frozen=True)
class QueryScores:
    """One question's terms and the best unfiltered chunk and document BM25: the scale that
    brings document scores to the chunk scale. Computed once per question (`KeywordIndex.scores`)."""

    terms: tuple[str, ...]
    top_chunk: float
    top_doc: float


class KeywordIndex:
    def __init__(self, indexes: dict, generation: int, k1: float, b: float, folder: Path | None = None) -> None:
        self.indexes = indexes  # {"chunks": tantivy.Index, "docs": tantivy.Index}
        self.generation = generation
        # Tantivy scores with its own BM25 constants (k1 1.2, b 0.75, the settings' defaults):
        # kept to tell an index saved under other settings.
        self.k1 = k1
        self.b = b
        self.folder = folder
        # Share of a chunk's score taken from its document: the setting bm25_doc_weight, given to
        # open(); an index built or loaded on its own ranks by chunk BM25 alone.
        self.doc_weight = 0.0
        self.stamp: dict | None = None  # keyword.json as `load` checked it against the files
        self.reload()

    def reload(self) -> None:
        """See what the writer committed since (tantivy readers see commits after a reload)."""
        for index in self.indexes.values():
            index.reload()
        self._searchers = {kind: index.searcher() for kind, index in self.indexes.items()}

    def __len__(self) -> int:
        return self._searchers["chunks"].num_docs

    # -- building and opening -------------------------------------------------------------------
    @classmethod
    def build(cls, records: Records, k1: float, b: float) -> KeywordIndex:
        """An index in memory (a reader's, while the writer holds the folder)."""
        check_bm25_constants(k1, b)
        generation = records.generation
        indexes = keyword_store.in_memory()
        keyword_store.catch_up(indexes, records)
        return cls(indexes, generation, k1, b)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        """The saved index, or None when it is missing, of another format, or not the files its
        writer committed (truncated, deleted, a commit its writer did not live to stamp)."""
        try:
            meta = _saved_stamp(folder)
            if meta is None or not _intact(folder, meta):
                return None
            indexes = keyword_store.open_on_disk(folder, create=False)
            if indexes is None:
                return None
            index = cls(indexes, int(meta["generation"]), float(meta["k1"]), float(meta["b"]), folder)
            index.stamp = meta
            return index
        except Exception:  # noqa: BLE001 - a derived index: any failure to read it means "bring in step"
            return None

    @classmethod
    def open(cls, records: Records, folder: Path, k1: float, b: float, doc_weight: float,
             lock_path: Path | None = None) -> KeywordIndex:
        """The saved index brought in step with the records, scoring with `doc_weight` of each
        document's BM25. `lock_path`: the caller is a reader (see refresh)."""
        index = cls.refresh(records, folder, k1, b, lock_path)
        index.doc_weight = doc_weight
        return index

    @classmethod
    def refresh(cls, records: Records, folder: Path, k1: float, b: float,
                lock_path: Path | None = None, changes: Changes | None = None) -> KeywordIndex:
        """Bring the saved index in line with the records: only the dispatches that changed.

        Without `lock_path` the caller holds the writer lock and updates the folder. With it (a
        reader: `ask`, each `serve` worker), the folder is updated only if the writer lock is free
        at once; else it serves the saved index as the writer last stamped it (chunks written since
        are found by the dense side until the writer's own update; chunks deleted since are dropped
        by the retriever), or, with none saved yet, one built in memory: readers never write the
        folder unlocked.

        `changes`: what the writer's run changed, applied alone when the saved index matched the
        records as the run began; else (or when the counts then differ) every key is compared.
        """
        check_bm25_constants(k1, b)
        existing = cls.load(folder)
        if existing is not None and existing.in_step(records, k1, b):
            return existing
        verified = existing.stamp if existing is not None else None
        if lock_path is None:
            return cls._catch_up(records, folder, k1, b, changes, verified)
        try:
            with writer_lock(lock_path, 0):
                return cls._catch_up(records, folder, k1, b, None, verified)
        except IndexLockedError:
            if existing is not None and math.isclose(existing.k1, k1) and math.isclose(existing.b, b):
                return existing
            return cls.build(records, k1, b)

    def in_step(self, records: Records, k1: float, b: float) -> bool:
        return (self.generation == records.generation and math.isclose(self.k1, k1)
                and math.isclose(self.b, b))

    @classmethod
    def _catch_up(cls, records: Records, folder: Path, k1: float, b: float,
                  changes: Changes | None, meta: dict | None) -> KeywordIndex:
        """Under the writer lock: add / delete what differs, then stamp the generation.

        `meta`: the stamp `load` just checked against the files; None when they did not match it
        (damaged, or a commit killed before its stamp): such postings are not patched but rebuilt.
        """
        generation = records.generation
        if meta is None:
            for kind in keyword_store.KINDS:
                shutil.rmtree(folder / kind, ignore_errors=True)
            meta = None
        try:
            indexes = keyword_store.open_on_disk(folder, create=True)
            applied = (changes is not None and meta is not None and meta.get("generation") == changes.since
                       and math.isclose(meta.get("k1", -1), k1) and math.isclose(meta.get("b", -1), b)
                       and keyword_store.apply_changes(indexes, records, changes.doc_ids))
            if not applied:
                keyword_store.catch_up(indexes, records)
        except Exception:  # noqa: BLE001 - postings tantivy cannot read: start again from the records
            for kind in keyword_store.KINDS:
                shutil.rmtree(folder / kind, ignore_errors=True)
            indexes = keyword_store.open_on_disk(folder, create=True)
            keyword_store.catch_up(indexes, records)
        known = meta.get("files") if meta is not None else None
        _stamp(folder, {"format": FORMAT_VERSION, "generation": generation, "k1": k1, "b": b,
                        "files": keyword_store.fingerprint(folder, known)})
        (folder / "keyword.npz").unlink(missing_ok=True)  # format 3's matrix
        return cls(indexes, generation, k1, b, folder)

    # -- querying -----------------------------------------------------------------------------
    def term_weights(self, terms: list[str]) -> dict[str, float]:
        searcher = self._searchers["chunks"]
        n = searcher.num_docs
        out = {}
        for t in terms:
            df = searcher.doc_freq("terms", t) if n else 0
            out[t] = float(math.log1p((n - df + 0.5) / (df + 0.5))) if df else 0.0
        return out

    def scores(self, terms: list[str]) -> QueryScores | None:
        """The question's scale (best chunk and document scores), or None when no term is indexed."""
        unique = tuple(dict.fromkeys(terms))
        if not unique or not len(self):
            return None
        top_chunk = self._hits("chunks", self._terms_query(unique), 1)
        if not top_chunk:
            return None
        top_doc = self._hits("docs", self._terms_query(unique), 1)
        return QueryScores(unique, top_chunk[0][0], top_doc[0][0] if top_doc else 0.0)

    def score_chunks(self, terms: list[str], chunk_ids: list[str],
                     scores: QueryScores | None = None) -> dict[str, float]:
        """Scores of given chunks (for fusing candidates the keyword side did not return)."""
        scale = scores if scores is not None else self.scores(terms)
        if scale is None or not chunk_ids:
            return {c: 0.0 for c in chunk_ids}
        found = self._chunk_hits(scale, self._among("id", chunk_ids), len(chunk_ids))
        mixed = self._mix(scale, found)
        return {c: mixed.get(c, 0.0) for c in chunk_ids}

    def search(self, terms: list[str], k: int, filters: Filters | None = None,
               scores: QueryScores | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk_id, score), best first; chunks with no score are left out."""
        scale = scores if scores is not None else self.scores(terms)
        if scale is None or k <= 0:
            return []
        restrict = self._filter(filters)
        pool = self._chunk_hits(scale, restrict, k * 2 + 20)
        if self._mixing(scale):
            # A chunk holding none of the words still takes its document's share: the best
            # documents bring all their chunks into the pool.
            top_docs = [d for _, d in self._doc_hits(scale, restrict, k)]
            if top_docs:
                pool.update(self._chunk_hits(scale, self._among("doc_id", top_docs), 100_000))
        mixed = self._mix(scale, pool)
        ranked = sorted(((c, s) for c, s in mixed.items() if s > 0), key=lambda cs: (-cs[1], cs[0]))
        return ranked[:k]

    # -- tantivy queries --------------------------------------------------------------------------
    def _mixing(self, scale: QueryScores) -> bool:
        return bool(self.doc_weight) and scale.top_chunk > 0 and scale.top_doc > 0

    def _mix(self, scale: QueryScores, chunks: dict[str, tuple[float, str]]) -> dict[str, float]:
        """Per chunk: its own BM25 mixed with its document's, both scaled to the chunk scale."""
        if not self._mixing(scale) or not chunks:
            return {c: s for c, (s, _) in chunks.items()}
        doc_ids = list({d for _, d in chunks.values()})
        docs = {d: s for s, d in self._doc_hits(scale, self._among("doc_id", doc_ids), len(doc_ids))}
        ratio = scale.top_chunk / scale.top_doc
        w = self.doc_weight
        return {c: (1 - w) * s + w * docs.get(d, 0.0) * ratio for c, (s, d) in chunks.items()}

    def _chunk_hits(self, scale: QueryScores, restrict, limit: int) -> dict[str, tuple[float, str]]:
        hits = self._hits("chunks", self._terms_query(scale.terms, restrict), limit, with_id=True)
        return {cid: (score, doc_id) for score, cid, doc_id in hits}

    def _doc_hits(self, scale: QueryScores, restrict, limit: int) -> list[tuple[float, str]]:
        hits = self._hits("docs", self._terms_query(scale.terms, restrict), limit, with_id=True)
        return [(score, doc_id) for score, _, doc_id in hits if score > 0]

    def _hits(self, kind: str, query, limit: int, with_id: bool = False) -> list:
        searcher = self._searchers[kind]
        hits = searcher.search(query, limit=max(1, limit), count=False).hits
        if not with_id:
            return [(score, addr) for score, addr in hits]
        out = []
        for score, addr in hits:
            doc = searcher.doc(addr)
            out.append((float(score), doc["id"][0], doc["doc_id"][0]))
        return out

    def _terms_query(self, terms: tuple[str, ...], restrict=None):
        """Any of the terms, scored by BM25; within `restrict` (scoring nothing) when given.
        With `restrict`, items that hold none of the terms come back too, with score 0."""
        import tantivy

        schema = self.indexes["chunks"].schema
        words = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", t, index_option="freq"))
                 for t in terms]
        if restrict is None:
            return tantivy.Query.boolean_query(words)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.boost_query(restrict, 0.0)),
                                            *words])

    def _among(self, field: str, values: list[str]):
        import tantivy

        return tantivy.Query.term_set_query(self.indexes["chunks"].schema, field, list(values))

    def _filter(self, filters: Filters | None):
        """The filters as one tantivy query, or None."""
        import tantivy

        if filters is None or not filters.active:
            return None
        schema = self.indexes["chunks"].schema
        integer = tantivy.FieldType.Integer
        parts = []
        if filters.date_from is not None:
            parts.append(tantivy.Query.range_query(schema, "date_max", integer, max(filters.date_from, 0), None))
        if filters.date_to is not None:
            parts.append(tantivy.Query.range_query(schema, "date_min", integer, 0, filters.date_to))
        if filters.sources:
            parts.append(self._among("source", sorted({s.casefold() for s in filters.sources})))
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])


def check_bm25_constants(k1: float, b: float) -> None:
    if not (math.isclose(k1, TANTIVY_K1) and math.isclose(b, TANTIVY_B)):
        raise KeywordSettingsError(
            f"bm25_k1 {k1} / bm25_b {b}: the keyword index (tantivy) scores with k1 {TANTIVY_K1} and "
            f"b {TANTIVY_B} only; set bm25_k1 and bm25_b back to these values")


def _saved_stamp(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / "keyword.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT_VERSION else None


def _intact(folder: Path, meta: dict) -> bool:
    try:
        return meta.get("files") == keyword_store.fingerprint(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _stamp(folder: Path, meta: dict) -> None:
    """Write then rename: a kill leaves the previous stamp, whose generation lags and is caught up."""
    tmp = folder / f"keyword.{os.getpid()}.tmp.json"
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    tmp.replace(folder / "keyword.json")
