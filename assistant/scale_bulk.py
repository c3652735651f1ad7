"""Bulk build of replicas K >= 1 for `bench scale`: what a real sync would write, written in large batches.

Replica 0 (the corpus) goes through the real `Pipeline.index`. A replica swaps words inside
sentences only (assistant/scale_replicas.py), so its sentences, token counts and hence chunk
bounds are replica 0's: each worker writes a replica's JSONL file, loads it with the project's
own loader (`load_file`: ids, titles, dates, content hashes as any sync sees them), cuts each
dispatch at its original's chunk bounds, and computes what `Indexer._prepare` / `_commit` would:
embed text (title rule included), embed hash, chunk id, French terms, vector (the replica
embedder's rule: the original's vector under the key of the chunk's first sentence, with its
noise), MinHash signature. The main process writes them through `Records` transactions; a
following real sync then fills Chroma and the keyword index from the records (their own repair
path) and must find every dispatch unchanged.

Skipped compared with a real sync: the tokenizer and the sentence chunker (bounds reused, see
above) and the version linker's LSH query per dispatch (signatures are stored, no link: replicas
are no versions of each other, Jaccard <= 0.24, scale.md).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import CommandError
from assistant.scale_replicas import noisy, read_corpus, replica_id, replicas, sentence_key, write_jsonl


@dataclass(frozen=True)
class Layout:
    """What replica 0's real sync made of one document: the title its chunks carry and their bounds."""

    title_cut: int | None  # chars of the title put before each chunk (None: no title line)
    spans: tuple[tuple[int, int, int], ...]  # (ordinal, start, end)
    text_len: int
    keys: tuple[str, ...] = ()  # per chunk: the key its vector is lent under (scale_replicas.sentence_key)
    signature: bytes = b""  # its MinHash signature


def title_cut(title: str | None, chunk_text: str, identity: str, stored_hash: str, embed_titles: bool) -> int | None:
    """Which title the indexer used for this chunk: the whole title, its first 120 chars, or none
    (told by the stored embed hash; the indexer's own rule needs the tokenizer)."""
    from index.indexer import embed_hash, embed_text_for

    for cut in ([len(title), 120] if title else []):
        if embed_hash(identity, embed_text_for(title[:cut], chunk_text, embed_titles)) == stored_hash:
            return cut
    if embed_hash(identity, embed_text_for(None, chunk_text, embed_titles)) == stored_hash:
        return None
    raise CommandError(f"bulk build: no title rule gives the stored embed hash of '{chunk_text[:60]}'")


def replica0_layouts(records: Any, identity: str, embed_titles: bool, titles: frozenset[str],
                     known: Any = (), unknown: dict[str, str] | None = None) -> dict[str, Layout]:
    """Replica 0's layout per document; `unknown` collects (key, embed text) of chunks whose key is
    not in `known`."""
    from index.indexer import embed_text_for

    signatures = dict(records.signatures())
    out = {}
    for doc in records.documents():
        chunks = records.chunks_of(doc.doc_id)
        if not chunks:
            continue
        first = chunks[0]
        cut = title_cut(doc.title, doc.text[first.start:first.end], identity, first.embed_hash, embed_titles)
        title = doc.title[:cut] if cut and doc.title else None
        etexts = [embed_text_for(title, doc.text[c.start:c.end], embed_titles) for c in chunks]
        keys = tuple(sentence_key(t, titles) for t in etexts)
        if unknown is not None:
            unknown.update((k, t) for k, t in zip(keys, etexts) if k not in known)
        out[doc.doc_id] = Layout(cut, tuple((c.ordinal, c.start, c.end) for c in chunks), len(doc.text), keys,
                                 signatures.get(doc.doc_id, b""))
    return out


@dataclass(frozen=True)
class WorkerContext:
    corpus: Path
    root: Path
    layouts: dict[str, Layout]
    base: dict[str, np.ndarray]
    titles: frozenset[str]
    identity: str
    embed_titles: bool
    max_file_bytes: int
    exact: bool  # compute each replica's sentence keys and signature (else reuse its original's)


_ctx: WorkerContext | None = None
_corpus: list[dict[str, Any]] = []


def _init_worker(ctx: WorkerContext) -> None:
    global _ctx, _corpus
    _ctx = ctx
    _corpus = read_corpus(ctx.corpus)


@dataclass
class ReplicaRows:
    replica: int
    write_s: float
    documents: list[Any]  # DocumentRecord
    chunks: list[Any]  # ChunkRecord
    vectors: dict[str, np.ndarray]  # embed hash -> vector
    signatures: list[tuple[str, bytes]]
    unknown: dict[str, str]  # embed hash -> embed text whose first sentence has no vector yet


def prepare_replica(replica: int, ids: list[str]) -> ReplicaRows:
    """In a worker: write replica `replica` of the documents `ids`, load it, and compute its rows."""
    from index.documents import load_file

    assert _ctx is not None
    started = time.perf_counter()
    path = _ctx.root / f"r{replica:04d}.jsonl"
    write_jsonl(path, replicas(_corpus, replica, set(ids)))
    write_s = time.perf_counter() - started
    loaded = load_file(path, _ctx.root, _ctx.max_file_bytes)
    if loaded.errors:
        raise CommandError(f"bulk build: {path} did not load: {loaded.errors[0]}")
    rows = ReplicaRows(replica, write_s, [], [], {}, [], {})
    original = {replica_id(i, replica): i for i in ids}
    now = time.time()
    for dispatch in loaded.dispatches:
        _dispatch_rows(dispatch, _ctx.layouts[original[dispatch.doc_id]], _ctx.root, now, rows)
    return rows


def _dispatch_rows(dispatch: Any, layout: Layout, root: Path, now: float, rows: ReplicaRows) -> None:
    from index.chunking import Chunk
    from index.french import analyze
    from index.indexer import ChunkRecord, _document_record, chunk_id, embed_hash, embed_text_for
    from index.minhash import signature, to_bytes
    from index.versions import shingles

    assert _ctx is not None
    if len(dispatch.text) != layout.text_len:
        raise CommandError(f"bulk build: {dispatch.doc_id} is not as long as its original")
    title = dispatch.title[:layout.title_cut] if layout.title_cut and dispatch.title else None
    for (ordinal, start, end), key in zip(layout.spans, layout.keys):
        etext = embed_text_for(title, dispatch.text[start:end], _ctx.embed_titles)
        ehash = embed_hash(_ctx.identity, etext)
        chunk = Chunk(ordinal, start, end, dispatch.text[start:end])
        rows.chunks.append(ChunkRecord(chunk_id=chunk_id(dispatch.doc_id, chunk, ehash), doc_id=dispatch.doc_id,
                                       ordinal=ordinal, start=start, end=end, embed_hash=ehash,
                                       terms=" ".join(analyze(etext))))
        base = _ctx.base.get(sentence_key(etext, _ctx.titles) if _ctx.exact else key)
        if base is None:
            rows.unknown[ehash] = etext
        else:
            rows.vectors[ehash] = noisy(base, etext)
    rows.documents.append(_document_record(dispatch, str(root), len(layout.spans), now))
    sig = to_bytes(signature(shingles(dispatch.text[dispatch.body_start:]))) if _ctx.exact else layout.signature
    rows.signatures.append((dispatch.doc_id, sig))


def write_rows(records: Any, rows: ReplicaRows) -> None:
    """One transaction per replica file, as `Indexer._commit` writes a batch (no old rows to delete)."""
    with records.transaction() as tx:
        tx.put_vectors(rows.vectors)
        for doc in rows.documents:
            tx.put_document(doc)
        tx.put_chunks(rows.chunks)
        for doc_id, sig in rows.signatures:
            tx.put_versions(doc_id, sig, [])


def bulk_replicas(pipeline: Any, corpus_path: Path, root: Path, plan: list[tuple[int, list[str]]],
                  workers: int, exact: bool = True) -> dict[str, Any]:
    """Write every replica of `plan` ((replica, original ids) pairs) into the records, then let a real
    sync bring Chroma and the keyword index in step. Timings and counts."""
    from index.locking import writer_lock

    s, records, embedder = pipeline.settings, pipeline.records, pipeline.embedder
    started = time.perf_counter()
    unknown: dict[str, str] = {}
    layouts = replica0_layouts(records, embedder.identity, s.embed_titles, embedder.titles, embedder.known, unknown)
    if unknown:  # replica 0 synced by an earlier process (--resume): what it encoded, encoded again
        embedder.embed(list(unknown.values()))
    # Only replica 0's keys (what replicas can need): far less to send to the workers than every known sentence.
    keys = {k for layout in layouts.values() for k in layout.keys}
    base = {k: embedder.known[k] for k in keys}
    ctx = WorkerContext(corpus_path, root, layouts, base, embedder.titles, embedder.identity, s.embed_titles,
                        s.max_file_bytes, exact)
    write_s, unknown = 0.0, 0
    with writer_lock(pipeline.indexer.lock_path, s.lock_timeout), \
            ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                                initializer=_init_worker, initargs=(ctx,)) as pool:
        for rows in pool.map(prepare_replica, *zip(*plan)) if plan else []:
            if rows.unknown:  # the real sync would encode these: so does the replica embedder
                fresh = embedder.embed(list(rows.unknown.values()))
                rows.vectors.update(zip(rows.unknown.keys(), fresh))
                unknown += len(rows.unknown)
            write_rows(records, rows)
            write_s += rows.write_s
    records_s = time.perf_counter() - started
    report = pipeline.index([root])  # Chroma and keyword index caught up from the records; files checked
    if report.failed or report.added or report.updated or report.removed or report.chunks_written:
        raise CommandError(f"bulk build: the sync after it changed things: added {len(report.added)}, updated "
                           f"{len(report.updated)}, removed {len(report.removed)}, failed {report.failed[:2]}")
    return {"bulk_records_s": round(records_s, 1), "bulk_sync_s": round(report.seconds, 1),
            "bulk_write_files_s": round(write_s, 1), "bulk_unknown_keys": unknown,
            "bulk_repaired": report.repaired}
