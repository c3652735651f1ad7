"""The incremental sync: content hashes decide what to embed; records first, derived stores after.

Order of a change: embed -> commit to the records (one transaction) -> update Chroma. A run
killed anywhere leaves the records consistent; the next run sees Chroma lagging (its synced
generation differs) and reconciles it from the records, never re-embedding.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunk_ids import ChunkingConfig, chunk_id, embed_hash, embed_text_for
from index.chunking import chunk_spans, split_sentences
from index.dates import date_range
from index.dispatch import Dispatch
from index.embedding import Embedder
from index.encoder_pool import PassageEncoder
from index.errors import DispatchQAError
from index.file_stamps import FileStampBook
from index.french import analyze, analyzer_identity
from index.keyword import Changes, KeywordIndex
from index.loader import FileLoader
from index.locking import writer_lock
from index.minhash import to_bytes
from index.records import ChunkRecord, DocumentRecord, Records
from index.stores import ChromaConfig, VectorStore, check_collection_name, wipe_embedded_store
from index.vector_sync import (
    catch_up,
    chunk_metadata,
    mark_in_step,
    open_vector_store,
    push_chunks,
)
from index.version_links import VersionLinker, adopt_versions, open_linker
from index.walk import root_problem, scan

Progress = Callable[[int, int, str], None]
BATCH_CHUNKS = 1024


class IndexMismatchError(DispatchQAError, RuntimeError):
    """The index was built by another model or chunking; mixing vectors is refused."""


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # {"file", "reason"}
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0
    documents_total: int = 0
    seconds: float = 0.0
    repaired: str | None = None  # what a reconcile or rebuild fixed, if anything
    encoder_processes: int = 0  # processes that embedded: 0 (nothing embedded), 1, or index_workers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PreparedChunk:
    record: ChunkRecord
    embed_text: str


class Indexer:
    def __init__(self, records: Records, chroma: ChromaConfig, keyword_dir: Path, embedder: Embedder,
                 chunking: ChunkingConfig, max_file_bytes: int, lock_path: Path, lock_timeout: float,
                 bm25_k1: float, bm25_b: float, loader_timeout: float, follow_symlinks: bool,
                 encoder_workers: int = 1) -> None:
        check_collection_name(chroma.collection)  # before reset/rebuild could wipe anything
        self.records = records
        self.chroma_config = chroma
        self.keyword_dir = keyword_dir
        self.embedder = embedder
        self.chunking = chunking
        self.max_file_bytes = max_file_bytes
        self.lock_path = lock_path
        self.lock_timeout = lock_timeout
        self.bm25 = (bm25_k1, bm25_b)
        self.follow_symlinks = follow_symlinks
        self.loader = FileLoader(loader_timeout, max_file_bytes)
        self._vectors: VectorStore | None = None
        self._linker: VersionLinker | None = None  # one writing operation's; built on first use
        self.encoder = PassageEncoder(embedder, encoder_workers)  # its worker processes live for one sync

    def close(self) -> None:
        self.loader.close()

    # -- identity -------------------------------------------------------------------------------
    def check_identity(self, write: bool) -> None:
        """Refuse an index built by another model/chunking; stamp a new one."""
        manifest = self.records.manifest()
        wanted = {"embedding_model": self.embedder.identity, "chunking": self.chunking.identity,
                  "analyzer": analyzer_identity()}
        recorded_model = manifest.get("embedding_model")
        if recorded_model is None:
            if write:
                dim = str(self.embedder.dimension)
                with self.records.transaction() as tx:
                    for key, value in {**wanted, "dimension": dim}.items():
                        tx.set_meta(key, value)
            return
        if "analyzer" not in manifest:
            # Indexes from before the stemmer's release was recorded were built with the one
            # requirements.lock pins (PyStemmer 2.2.0.3): adopt, rather than re-embed every index.
            if write:
                with self.records.transaction() as tx:
                    tx.set_meta("analyzer", wanted["analyzer"])
            manifest = {**manifest, "analyzer": wanted["analyzer"]}
        for key, value in wanted.items():
            if manifest.get(key) != value:
                raise IndexMismatchError(
                    f"the index in {self.records.path.parent} was built with {key} "
                    f"'{manifest.get(key)}', but the settings ask for '{value}'. "
                    + {"embedding_model": "Vectors of different models are never mixed",
                       "analyzer": "Keyword terms of another stemmer release would silently miss words"}.get(
                        key, "Chunks cut another way would not match the stored ones")
                    + ": re-index with `dispatch-qa index --reset` (re-embeds everything), or use the "
                    "settings the index was built with."
                )

    # -- vector store -------------------------------------------------------------------------
    def use_vectors(self, store: VectorStore) -> None:
        """Share the store the query side just opened (and checked), instead of opening another."""
        self._vectors = store

    def vector_store(self) -> VectorStore:
        if self._vectors is None:
            self._vectors = open_vector_store(self.chroma_config, self.records)
        return self._vectors

    # -- public operations --------------------------------------------------------------------
    def sync(self, roots: Iterable[Path] | None = None, progress: Progress | None = None,
             transform: Callable[[Dispatch], Dispatch] | None = None, rebuild: bool = False) -> SyncReport:
        """Bring the index in line with the given roots (or every root indexed before)."""
        started = time.perf_counter()
        report = SyncReport()
        with writer_lock(self.lock_path, self.lock_timeout):
            since = self.records.generation
            self.check_identity(write=True)
            if rebuild:
                report.repaired = self._rebuild_vectors()
            else:
                report.repaired = self._reconcile_vectors()
            adopt_versions(self.records)
            wanted_roots = _covering_roots([Path(r).resolve() for r in roots], self.records.roots()) if roots \
                else [Path(r) for r in self.records.roots()]
            try:
                for root in wanted_roots:
                    self._sync_root(root, report, progress, transform)
            finally:
                self._linker = None  # its LSH may hold what a failed transaction did not record
                report.encoder_processes = self.encoder.close()  # on error, Ctrl-C too: no process outlives it
            self._finish(report, since)
        report.documents_total, report.chunks_total = self.records.counts()
        report.seconds = time.perf_counter() - started
        return report

    def remove(self, doc_id: str) -> bool:
        with writer_lock(self.lock_path, self.lock_timeout):
            doc = self.records.document(doc_id)
            if doc is None:
                return False
            since = self.records.generation
            self._reconcile_vectors()  # never stamp a store behind the records as in step
            with self.records.transaction() as tx:
                gone = tx.delete_document(doc_id)
                tx.exclude(doc_id, doc.content_hash)
                tx.drop_unreferenced_vectors()
            self.vector_store().delete(gone)
            self._finish(SyncReport(removed=[doc_id]), since)
            return True

    def forget_root(self, path: Path | str) -> list[str] | None:
        """Stop syncing a recorded root and take its documents out of the index (not excluded: indexing
        the folder again brings them back). The removed doc ids; None when ``path`` is not a root."""
        with writer_lock(self.lock_path, self.lock_timeout):
            key = match_root(path, self.records.roots())
            if key is None:
                return None
            since = self.records.generation
            self._reconcile_vectors()
            docs = sorted(self.records.document_hashes(root=key))
            report = SyncReport()
            if docs:
                self._delete(docs, report)
            self.records.remove_root(key)
            self._finish(report, since)
            return docs

    def reset(self) -> None:
        """Forget every document and vector (keeping the roots), for a re-embed with new settings."""
        with writer_lock(self.lock_path, self.lock_timeout):
            with self.records.transaction() as tx:
                tx.clear_all()
            if self.chroma_config.mode == "embedded":
                self._vectors = None
                wipe_embedded_store(self.chroma_config)
            else:
                self.vector_store().reset()
            self._vectors = None

    # -- sync internals -----------------------------------------------------------------------
    def _sync_root(self, root: Path, report: SyncReport, progress: Progress | None,
                   transform: Callable[[Dispatch], Dispatch] | None) -> None:
        root_key = str(root)
        known = self.records.document_hashes(root=root_key)  # other roots' documents: looked up by id
        if not root.exists():
            kept = len(known)
            report.failed.append({"file": root_key,
                                  "reason": f"not found; its {kept} indexed documents are kept"})
            return
        if problem := root_problem(root):  # checked before the root is recorded
            hint = "; forget it with `dispatch-qa roots --forget`" if root_key in self.records.roots() else ""
            report.failed.append({"file": root_key, "reason": problem + hint})
            return
        self.records.add_root(root_key)
        excluded = self.records.excluded()
        seen: dict[str, str] = {}
        protected_paths: set[str] = set()
        pending: list[tuple[Dispatch, bool]] = []
        found = scan(root, self.follow_symlinks)
        report.failed += [{"file": path, "reason": reason} for path, reason in found.problems]
        stamps = FileStampBook(self.records, root_key, known, enabled=transform is None)
        for path in found.files:
            if stamps.skip(path, seen, report):
                continue
            result = self.loader.load(path, root)
            for err in result.errors:
                report.failed.append({"file": err.path, "reason": err.reason})
            if result.errors:
                protected_paths.add(str(path.resolve()))
            for dispatch in result.dispatches:
                if transform is not None:
                    dispatch = transform(dispatch)
                if dispatch.doc_id in seen:
                    report.failed.append({"file": dispatch.source_path, "reason":
                                          f"document id '{dispatch.doc_id}' already used by {seen[dispatch.doc_id]}"})
                    continue
                previous = known.get(dispatch.doc_id) or self.records.document_hash(dispatch.doc_id)
                if previous is not None and previous[1] != root_key and Path(previous[1]).exists() \
                        and not _inside(Path(previous[1]), root):
                    report.failed.append({"file": dispatch.source_path, "reason":
                                          f"document id '{dispatch.doc_id}' is already indexed from {previous[2]}"})
                    continue
                seen[dispatch.doc_id] = dispatch.source_path
                if excluded.get(dispatch.doc_id) == dispatch.content_hash:
                    continue  # removed by the user and unchanged since
                if previous is not None and previous[0] == dispatch.content_hash and previous[1] == root_key:
                    report.unchanged += 1
                    continue
                pending.append((dispatch, previous is not None))
        gone = [doc_id for doc_id, (_, r, path) in known.items()
                if r == root_key and doc_id not in seen and path not in protected_paths and not found.keeps(path)]
        self._write(root_key, pending, report, progress)
        if gone:
            self._delete(gone, report)
        stamps.commit(report)
        self._absorb_inner_roots(root, report)

    def _absorb_inner_roots(self, root: Path, report: SyncReport) -> None:
        """Roots inside this one are now covered by it: their documents live on under this root's
        ids (vectors reused), so the old copies and the inner roots go."""
        for inner in self.records.roots():
            if inner == str(root) or not _inside(Path(inner), root):
                continue
            stale = sorted(self.records.document_hashes(root=inner))
            if stale:
                self._delete(stale, report)
            self.records.remove_root(inner)

    def _write(self, root_key: str, pending: list[tuple[Dispatch, bool]], report: SyncReport,
               progress: Progress | None) -> None:
        total = len(pending)
        done = 0
        batch: list[tuple[Dispatch, bool, list[PreparedChunk]]] = []
        batch_chunks = 0
        for dispatch, is_update in pending:
            prepared = self._prepare(dispatch)
            batch.append((dispatch, is_update, prepared))
            batch_chunks += len(prepared)
            if batch_chunks >= BATCH_CHUNKS:
                self._commit(root_key, batch, report)
                done += len(batch)
                if progress:
                    progress(done, total, "embedding")
                batch, batch_chunks = [], 0
        if batch:
            self._commit(root_key, batch, report)
            done += len(batch)
            if progress:
                progress(done, total, "embedding")

    def _prepare(self, dispatch: Dispatch) -> list[PreparedChunk]:
        spans = split_sentences(dispatch.text, dispatch.body_start)
        title = dispatch.title if self.chunking.embed_titles else None
        title_tokens = self.embedder.count_tokens(title) + 1 if title else 0
        if title and title_tokens > self.chunking.max_tokens // 3:
            title = title[:120]
            title_tokens = self.embedder.count_tokens(title) + 1
        budget = max(16, min(self.chunking.max_tokens, self.embedder.max_tokens) - title_tokens)
        counter = _TokenCounter(self.embedder, dispatch.text, spans)
        chunks = chunk_spans(dispatch.text, spans, budget, lambda piece: self.embedder.count_tokens(piece),
                             self.chunking.overlap_sentences, count_range=counter)
        identity = self.embedder.identity
        prepared = []
        for chunk in chunks:
            etext = embed_text_for(title, chunk.text, self.chunking.embed_titles)
            ehash = embed_hash(identity, etext)
            terms = " ".join(analyze(etext))
            record = ChunkRecord(chunk_id=chunk_id(dispatch.doc_id, chunk, ehash), doc_id=dispatch.doc_id,
                                 ordinal=chunk.ordinal, start=chunk.start, end=chunk.end, embed_hash=ehash,
                                 terms=terms)
            prepared.append(PreparedChunk(record=record, embed_text=etext))
        return prepared

    def _commit(self, root_key: str, batch: list[tuple[Dispatch, bool, list[PreparedChunk]]],
                report: SyncReport) -> None:
        hashes = [p.record.embed_hash for _, _, prepared in batch for p in prepared]
        cached = self.records.vectors(hashes)
        missing: dict[str, str] = {}
        for _, _, prepared in batch:
            for p in prepared:
                if p.record.embed_hash not in cached:
                    missing.setdefault(p.record.embed_hash, p.embed_text)
        fresh: dict[str, np.ndarray] = {}
        if missing:
            vectors = self.encoder.encode(list(missing.values()))
            fresh = dict(zip(missing.keys(), vectors))
            report.chunks_embedded += len(missing)
        all_vectors = {**cached, **fresh}
        now = time.time()
        old_ids: list[str] = []
        self._linker = self._linker or open_linker(self.records)
        versions = {d.doc_id: self._linker.link(d.doc_id, d.text[d.body_start:]) for d, _, _ in batch}
        with self.records.transaction() as tx:
            tx.put_vectors(fresh)
            for dispatch, _, prepared in batch:
                old_ids += tx.delete_document(dispatch.doc_id)
                tx.put_document(_document_record(dispatch, root_key, len(prepared), now))
                tx.put_chunks(p.record for p in prepared)
                tx.include(dispatch.doc_id)
                sig, links = versions[dispatch.doc_id]
                tx.put_versions(dispatch.doc_id, to_bytes(sig), links)
        self._linker.committed()
        new_ids = {p.record.chunk_id for _, _, prepared in batch for p in prepared}
        store = self.vector_store()
        stale = [i for i in old_ids if i not in new_ids]
        if stale:
            store.delete(stale)
        ids, vecs, metas = [], [], []
        for dispatch, _, prepared in batch:
            meta = chunk_metadata(dispatch.doc_id, dispatch.date, dispatch.source)
            for p in prepared:
                ids.append(p.record.chunk_id)
                vecs.append(all_vectors[p.record.embed_hash])
                metas.append({**meta, "start": p.record.start, "end": p.record.end})
        store.upsert(ids, np.asarray(vecs, dtype=np.float32), metas)
        for dispatch, is_update, prepared in batch:
            (report.updated if is_update else report.added).append(dispatch.doc_id)
            report.chunks_written += len(prepared)

    def _delete(self, doc_ids: list[str], report: SyncReport) -> None:
        gone: list[str] = []
        with self.records.transaction() as tx:
            for doc_id in doc_ids:
                gone += tx.delete_document(doc_id)
        self.vector_store().delete(gone)
        report.removed += doc_ids

    def _finish(self, report: SyncReport, since: int) -> None:
        """Drop orphan vectors, bring the keyword index up to date, mark Chroma as in step.
        `since`: the records' generation when this writing run began."""
        # Neither bumps the generation: an unchanged sync must leave the derived stores as they are.
        self.records.drop_unreferenced_vectors()
        self.records.set_meta("last_indexed_at", str(time.time()))
        changed = list(dict.fromkeys(report.added + report.updated + report.removed))
        KeywordIndex.refresh(self.records, self.keyword_dir, *self.bm25, changes=Changes(since, changed))
        mark_in_step(self.records, self.vector_store())

    # -- repair -------------------------------------------------------------------------------
    def _reconcile_vectors(self) -> str | None:
        """After an interrupted run (or with a store from another generation), make Chroma hold
        exactly the recorded chunks."""
        store = self.vector_store()  # opening is itself a check: a damaged store is rebuilt there
        repaired, store.repaired = store.repaired, None
        return catch_up(self.records, store) or repaired

    def _rebuild_vectors(self) -> str:
        self._vectors = None
        if self.chroma_config.mode == "embedded":
            wipe_embedded_store(self.chroma_config)
        # Not open_vector_store: its repair would push every chunk once before the reset below.
        store = self._vectors = VectorStore(self.chroma_config)
        store.reset()
        wanted = self.records.chunk_ids()
        push_chunks(self.records, store, wanted)
        mark_in_step(self.records, store)
        return f"rebuilt the vector store from the records: {len(wanted)} chunks, 0 embedded"


def _document_record(dispatch: Dispatch, root_key: str, n_chunks: int, now: float) -> DocumentRecord:
    span = date_range(dispatch.date)
    return DocumentRecord(
        doc_id=dispatch.doc_id, root=root_key, source_path=dispatch.source_path, title=dispatch.title,
        date=dispatch.date, date_min=span[0] if span else None, date_max=span[1] if span else None,
        source=dispatch.source, language=dispatch.language, text=dispatch.text,
        body_start=dispatch.body_start, content_hash=dispatch.content_hash, n_chunks=n_chunks,
        indexed_at=now)


def match_root(path: Path | str, roots: list[str]) -> str | None:
    """The recorded root ``path`` names (as given, absolute, or resolved), if any."""
    raw = str(path)
    for candidate in (raw, os.path.abspath(raw), str(Path(raw).resolve())):
        if candidate in roots:
            return candidate
    return None


def _covering_roots(asked: list[Path], known: list[str]) -> list[Path]:
    """A path inside an indexed root syncs that root: indexing it on its own would give its files
    a second set of ids (relative to another folder), i.e. duplicate documents."""
    out: list[Path] = []
    for path in asked:
        outer = next((Path(k) for k in known if Path(k) != path and _inside(path, Path(k))
                      and Path(k).is_dir()), None)
        out.append(outer or path)
    return list(dict.fromkeys(out))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


class _TokenCounter:
    """Token counts of text ranges, summed from per-sentence counts.

    The model's tokenizer splits on whitespace first, so a run of sentences joined by whitespace
    has exactly the sum of their counts: one batched tokenizer call per document replaces
    hundreds of calls on growing strings. Ranges not on sentence bounds fall back to the tokenizer.
    """

    def __init__(self, embedder: Embedder, text: str, spans: list) -> None:
        self.embedder = embedder
        self.text = text
        counts = embedder.count_tokens_many([text[s.start:s.end] for s in spans])
        self.index_of_start = {s.start: i for i, s in enumerate(spans)}
        self.index_of_end = {s.end: i for i, s in enumerate(spans)}
        self.prefix = [0]
        for c in counts:
            self.prefix.append(self.prefix[-1] + c)

    def __call__(self, start: int, end: int) -> int:
        first = self.index_of_start.get(start)
        last = self.index_of_end.get(end)
        if first is not None and last is not None and last >= first:
            return self.prefix[last + 1] - self.prefix[first]
        return self.embedder.count_tokens(self.text[start:end])
