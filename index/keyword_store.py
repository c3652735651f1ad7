"""The keyword postings on disk: two tantivy indexes (chunks, whole documents) derived from the records.

Tantivy holds the postings and scores BM25; the terms it indexes are the project's own French
analysis (index/french.py), joined by spaces and split on whitespace only, so tantivy adds no
analysis of its own. Each tantivy document carries `key`, a hash of its dispatch's record
(id, content, dates, source, and the model and chunking its chunk ids depend on): syncing compares
the keys on both sides and deletes / adds the difference, so a sync touches only the dispatches that changed, and an index left behind by a
killed run is repaired the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from index.records import ChunkRecord, Records

KINDS = ("chunks", "docs")  # one tantivy index per scoring unit: their BM25 statistics differ
_WRITER_HEAP = 50_000_000


def schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("doc_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("key", indexed=True, fast=True)
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("date_min", indexed=True, fast=True)
    builder.add_integer_field("date_max", indexed=True, fast=True)
    builder.add_text_field("source", tokenizer_name="raw", index_option="basic")
    return builder.build()


def open_on_disk(folder: Path, create: bool):
    """The two indexes in `folder` (created empty when `create`), or None when one is missing."""
    import tantivy

    out = {}
    for kind in KINDS:
        path = folder / kind
        if not (path / "meta.json").exists():
            if not create:
                return None
            path.mkdir(parents=True, exist_ok=True)
            out[kind] = tantivy.Index(schema(), str(path), reuse=True)
        else:
            out[kind] = tantivy.Index.open(str(path))
    return out


def in_memory():
    import tantivy

    return {kind: tantivy.Index(schema()) for kind in KINDS}


def record_keys(records: Records) -> dict[str, int]:
    """doc_id -> key of every dispatch in the records."""
    hashes = records.document_hashes()
    built_by = _built_by(records)
    return {doc_id: _key(doc_id, hashes.get(doc_id, ("",))[0], date_min, date_max, source, built_by)
            for doc_id, date_min, date_max, source in records.doc_meta()}


def indexed_keys(index) -> set[int]:
    """The keys present in one tantivy index (one per chunk or document it holds)."""
    import tantivy

    index.reload()
    searcher = index.searcher()
    if not searcher.num_docs:
        return set()
    hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
    return set(searcher.fast_field_values("key", [addr for _, addr in hits]))


def stored_ids(index) -> list[str]:
    """Every id one index holds (chunk ids, or doc ids), for checks: reads each stored document."""
    import tantivy

    index.reload()
    searcher = index.searcher()
    if not searcher.num_docs:
        return []
    hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
    return [searcher.doc(addr)["id"][0] for _, addr in hits]


def catch_up(indexes: dict, records: Records) -> int:
    """Make both indexes hold exactly the records' dispatches; returns how many were (re)added.

    Each index is committed on its own: a kill between the two leaves one behind, which the next
    call (the saved generation then lags) finds by the same comparison.
    """
    import tantivy

    wanted = record_keys(records)
    meta = {d: (date_min, date_max, source) for d, date_min, date_max, source in records.doc_meta()}
    added = 0
    for kind, index in indexes.items():
        have = indexed_keys(index)
        stale = have - set(wanted.values())
        missing = [d for d, key in wanted.items() if key not in have]
        if not stale and not missing:
            continue
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for key in stale:  # a plain int term would be taken for i64: a u64 range of one
            writer.delete_documents_by_query(tantivy.Query.range_query(
                index.schema, "key", tantivy.FieldType.Unsigned, key, key))
        for doc_id, chunks in _chunks_by_doc(records, missing):
            _add(writer, kind, doc_id, wanted[doc_id], meta[doc_id], chunks)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        added = max(added, len(missing))
    return added


def apply_changes(indexes: dict, records: Records, doc_ids: list[str]) -> bool:
    """Replace the given dispatches' entries with what the records now hold (none when deleted).

    The sync's own list of what it wrote: no scan of the records or of the postings. Returns
    whether the indexes then hold as many chunks and documents as the records (else a change
    went unreported and the caller compares everything with `catch_up`).
    """
    documents = {d.doc_id: d for d in records.documents(doc_ids)}
    chunks = {d: records.chunks_of(d) for d in documents}
    built_by = _built_by(records)
    for kind, index in indexes.items():
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for doc_id in doc_ids:
            writer.delete_documents_by_term("doc_id", doc_id)
        for doc_id, doc in documents.items():
            key = _key(doc_id, doc.content_hash, doc.date_min, doc.date_max, doc.source, built_by)
            _add(writer, kind, doc_id, key, (doc.date_min, doc.date_max, doc.source), chunks[doc_id])
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
    n_docs, n_chunks = records.counts()
    return (indexes["chunks"].searcher().num_docs == n_chunks
            and indexes["docs"].searcher().num_docs == n_docs)


def _chunks_by_doc(records: Records, doc_ids: list[str]) -> Iterable[tuple[str, list[ChunkRecord]]]:
    if len(doc_ids) < 500:  # a sync's few dispatches: one query each
        for doc_id in doc_ids:
            yield doc_id, records.chunks_of(doc_id)
        return
    wanted = set(doc_ids)
    grouped: dict[str, list[ChunkRecord]] = {d: [] for d in doc_ids}
    for batch in records.iter_chunks():
        for chunk in batch:
            if chunk.doc_id in wanted:
                grouped[chunk.doc_id].append(chunk)
    yield from grouped.items()


def _add(writer, kind: str, doc_id: str, key: int, meta: tuple, chunks: list[ChunkRecord]) -> None:
    import tantivy

    date_min, date_max, source = meta
    common = {"doc_id": doc_id, "date_min": -1 if date_min is None else int(date_min),
              "date_max": -1 if date_max is None else int(date_max), "source": (source or "").casefold()}
    if kind == "docs":
        items = [(doc_id, " ".join(c.terms for c in chunks))]
    else:
        items = [(c.chunk_id, c.terms) for c in chunks]
    for item_id, terms in items:
        doc = tantivy.Document(id=item_id, terms=terms, **common)
        doc.add_unsigned("key", key)  # a plain int would be taken for i64
        writer.add_document(doc)


def _built_by(records: Records) -> str:
    """What a dispatch's chunk ids depend on besides its text: an index re-embedded with another model
    (`--reset`) holds the same dispatches under other chunk ids, so their keys must differ too."""
    manifest = records.manifest()
    return "|".join(manifest.get(k) or "" for k in ("embedding_model", "chunking", "analyzer"))


def _key(doc_id: str, content_hash: str, date_min, date_max, source, built_by: str) -> int:
    digest = hashlib.blake2b(repr((doc_id, content_hash, date_min, date_max, source, built_by)).encode("utf-8"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # fits tantivy's u64 and Python's signed conversions


_SEGMENT_FILES = ("fast", "fieldnorm", "idx", "pos", "store", "term")


def fingerprint(folder: Path, known: dict | None = None) -> dict[str, str]:
    """The committed state of both indexes: a sha256 of each meta.json and of every file it names.

    Saved beside the generation by the writer, checked by every opener: a file truncated, garbled,
    deleted or replaced since is seen before tantivy reads it. Tantivy never rewrites a segment
    file, so the writer reuses the digests of `known` (the previous stamp) for files of the same
    name and size, and hashes only what its commit wrote.
    """
    import json

    out: dict[str, str] = {}
    for kind in KINDS:
        raw = (folder / kind / "meta.json").read_bytes()
        out[f"{kind}/meta.json"] = hashlib.sha256(raw).hexdigest()
        for segment in json.loads(raw)["segments"]:
            stem = segment["segment_id"].replace("-", "")
            names = [f"{stem}.{ext}" for ext in _SEGMENT_FILES]
            if segment.get("deletes"):
                names.append(f"{stem}.{segment['deletes']['opstamp']}.del")
            for name in names:
                out[f"{kind}/{name}"] = _file_digest(folder / kind / name, (known or {}).get(f"{kind}/{name}"))
    return out


def _file_digest(path: Path, known: str | None) -> str:
    """'size:sha256' of a file ('missing' when absent); `known` reused when the size matches."""
    if not path.exists():
        return "missing"
    size = path.stat().st_size
    if known is not None and known.startswith(f"{size}:"):
        return known
    with open(path, "rb") as fh:
        return f"{size}:{hashlib.file_digest(fh, 'sha256').hexdigest()}"
