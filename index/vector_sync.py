"""Chroma kept in step with the records: pushing recorded chunks, reconciling, generation stamps,
and opening the store checked (damage rebuilt from the records, a lagging store caught up).

The records are the source of truth; nothing here embeds anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from index.dates import date_range
from index.locking import IndexLockedError, writer_lock
from index.records import DocumentRecord, Records
from index.stores import ChromaConfig, StoreError, VectorStore, check_collection_name, is_damage, wipe_embedded_store

__all__ = ["StoreDamagedError", "catch_up", "chunk_metadata", "in_step", "mark_in_step", "open_vector_store",
           "probe", "push_chunks", "reconcile_store"]


def chunk_metadata(doc_id: str, date: str | None, source: str | None) -> dict[str, Any]:
    span = date_range(date)
    return {"doc_id": doc_id, "date_min": span[0] if span else -1, "date_max": span[1] if span else -1,
            "source": (source or "").casefold()}


def push_chunks(records: Records, store: VectorStore, chunk_ids: Iterable[str]) -> None:
    """Write recorded chunks (with their stored vectors) into Chroma: no embedding involved."""
    wanted = set(chunk_ids)
    docs: dict[str, DocumentRecord] = {}
    for batch in records.iter_chunks(batch=2000):
        chunks = [c for c in batch if c.chunk_id in wanted]
        if not chunks:
            continue
        need = {c.doc_id for c in chunks} - docs.keys()
        docs.update({d.doc_id: d for d in records.documents(need)})
        vectors = records.vectors(c.embed_hash for c in chunks)
        ids, vecs, metas = [], [], []
        for c in chunks:
            doc = docs.get(c.doc_id)
            if doc is None or c.embed_hash not in vectors:
                continue
            ids.append(c.chunk_id)
            vecs.append(vectors[c.embed_hash])
            metas.append({**chunk_metadata(doc.doc_id, doc.date, doc.source), "start": c.start, "end": c.end})
        if ids:
            store.upsert(ids, np.asarray(vecs, dtype=np.float32), metas)


def reconcile_store(records: Records, store: VectorStore) -> tuple[int, int]:
    """Make the store hold exactly the recorded chunks; returns (restored, removed)."""
    wanted = records.chunk_ids()
    present = store.all_ids()
    extra = present - wanted
    missing = wanted - present
    if extra:
        store.delete(sorted(extra))
    if missing:
        push_chunks(records, store, missing)
    return len(missing), len(extra)


def mark_in_step(records: Records, store: VectorStore) -> None:
    """Stamp the store and the records with the generation the store now mirrors."""
    generation = records.generation
    if store.generation != generation:  # a no-op sync writes nothing to Chroma
        store.set_generation(generation)
    records.set_meta("chroma_generation", str(generation))


def in_step(records: Records, store: VectorStore, count: int | None = None) -> bool:
    """The store mirrors the records: both stamps carry the records' generation and it holds as many
    chunks (a store copied back from elsewhere, or a server restarted empty, fails one of these).
    `count`: the store's count when the caller just took it (Chroma counts in ~1 s per million)."""
    generation = records.generation
    return (records.get_meta("chroma_generation") == str(generation) and store.generation == generation
            and (store.count() if count is None else count) == records.counts()[1])


def catch_up(records: Records, store: VectorStore) -> str | None:
    """Bring a store that is not in step with the records back in step (no embedding); the caller
    holds the writer lock. What was fixed, or None when it was in step."""
    if in_step(records, store):
        return None
    restored, removed = reconcile_store(records, store)
    records.drop_unreferenced_vectors(everything=True)  # what the interrupted run would have dropped
    mark_in_step(records, store)
    if not (restored or removed):
        return None
    repaired = (f"the vector store did not hold the recorded chunks and was repaired from the records: "
                f"{restored} chunks restored, {removed} orphans removed (0 embedded)")
    records.set_meta("last_repair", f"{time.time()}: {repaired}")
    return repaired


def open_vector_store(config: ChromaConfig, records: Records, lock_path: Path | None = None) -> VectorStore:
    """Open Chroma, checked: an embedded store whose files are damaged is rebuilt from the records.

    With ``lock_path`` (the query side, which holds no lock), a store behind the records (an
    interrupted run: orphans, missing chunks) is brought in step at once when no writer is running;
    while one is, the store is used as it is and the retriever keeps only chunks the records hold.
    Without it, the caller holds the writer lock and catches up itself. An error that is not damage
    (permissions, a full disk, a lock, a missing package) is raised, and the store left alone.
    """
    check_collection_name(config.collection)
    try:
        store = VectorStore.open_checked(config)
        steady = in_step(records, store, store.opened_count)
        if lock_path is not None and not steady:
            try:
                with writer_lock(lock_path, 0):
                    store.repaired = catch_up(records, store)
            except IndexLockedError:
                return store  # a writer is running: it brings the store in step when it finishes
            steady = in_step(records, store)
        if steady:
            probe(records, store)
        return store
    except Exception as exc:
        if config.mode == "server" or not is_damage(exc):
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open the vector store at {config.location}: {type(exc).__name__}: {exc} "
                             "(left as it is: this is not damage that a rebuild would fix)") from exc
        damage = f"{type(exc).__name__}: {exc}"
    if lock_path is None:
        return _rebuild_damaged(config, records, damage)
    try:
        with writer_lock(lock_path, 0):
            return _rebuild_damaged(config, records, damage)
    except IndexLockedError:
        raise StoreError(f"the vector store at {config.location} is damaged ({damage}) and an indexing run is "
                         "writing; it is rebuilt from the records when that run ends, try again then") from None


class StoreDamagedError(RuntimeError):
    """The store opens but does not give back what it holds."""


def probe(records: Records, store: VectorStore) -> None:
    """A stored vector must find itself (or its identical twin): a store that opens but answers from
    damaged files is caught here, before it serves a question."""
    first = next(records.iter_chunks(batch=1), [])
    vector = records.vectors([first[0].embed_hash]).get(first[0].embed_hash) if first else None
    if vector is None:
        return
    hits = store.query(vector, 1)
    if not hits or hits[0][1] < 0.99:
        best = f"{hits[0][1]:.3f}" if hits else "nothing found"
        raise StoreDamagedError(f"a stored vector does not find itself (best similarity: {best})")


def _rebuild_damaged(config: ChromaConfig, records: Records, damage: str) -> VectorStore:
    wipe_embedded_store(config)
    store = VectorStore(config)
    push_chunks(records, store, records.chunk_ids())
    mark_in_step(records, store)
    store.repaired = (f"the vector store was damaged ({damage[:200]}) and was rebuilt from the records "
                      "(0 embedded)")
    records.set_meta("last_repair", f"{time.time()}: {store.repaired}")
    return store
