"""The project's own record of documents, chunks and their vectors (SQLite, the source of truth).

Chroma and the keyword index are derived from these records, so either can be rebuilt from
here without re-embedding; every change bumps `generation` so derived stores know they lag.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import DispatchQAError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    source_path TEXT NOT NULL,
    title TEXT, date TEXT, date_min INTEGER, date_max INTEGER, source TEXT,
    language TEXT NOT NULL,
    text TEXT NOT NULL,
    body_start INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_root ON documents(root);
CREATE INDEX IF NOT EXISTS documents_path ON documents(source_path);
-- Change detection reads these four without the rows (whose texts sit before content_hash).
CREATE INDEX IF NOT EXISTS documents_hashes ON documents(root, doc_id, content_hash, source_path);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    embed_hash TEXT NOT NULL,
    terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_embed ON chunks(embed_hash);
CREATE TABLE IF NOT EXISTS vectors (embed_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS excluded (doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (doc_id TEXT PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS version_links (
    doc_a TEXT NOT NULL, doc_b TEXT NOT NULL, jaccard REAL NOT NULL, PRIMARY KEY (doc_a, doc_b)
);
CREATE INDEX IF NOT EXISTS version_links_b ON version_links(doc_b);
-- A signature's LSH band keys (index/minhash.py band_rows) -> its signatures rowid: a new dispatch's
-- version candidates are BANDS lookups, instead of an LSH rebuilt from every signature at each run.
-- index/file_stamps.py: a file's stat when its dispatches were last committed, read by `reader`.
CREATE TABLE IF NOT EXISTS file_stamps (path TEXT PRIMARY KEY, root TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, reader TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS version_bands (key INTEGER NOT NULL, sig INTEGER NOT NULL, PRIMARY KEY (key, sig))
    WITHOUT ROWID;
"""


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    root: str
    source_path: str
    title: str | None
    date: str | None
    date_min: int | None
    date_max: int | None
    source: str | None
    language: str
    text: str
    body_start: int
    content_hash: str
    n_chunks: int
    indexed_at: float


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    embed_hash: str
    terms: str  # analyzed keyword terms, space separated


class RecordsError(DispatchQAError, RuntimeError):
    """records.sqlite cannot be read: the message names the file and what to do."""


class Records:
    """Thread-safe access to records.sqlite; writes happen in short transactions."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # Embed hashes whose chunks this process deleted since its last drop_unreferenced_vectors.
        self.released: set[str] = set()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=60)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            # The records are the source of truth: nothing can rebuild them but the source files.
            raise RecordsError(f"{path} cannot be read as an index ({exc}); move it aside and index the "
                               "folders again (`dispatch-qa index <folders>`)") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ---------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def manifest(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    # -- roots ------------------------------------------------------------------------------
    def roots(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT path FROM roots ORDER BY added_at, path")]

    def add_root(self, path: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO roots VALUES (?, ?)", (path, time.time()))

    def remove_root(self, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM roots WHERE path = ?", (path,))
            self._db.execute("DELETE FROM file_stamps WHERE root = ?", (path,))

    # -- file stamps (index/file_stamps.py): derived, no generation bump ----------------------
    def file_stamps(self, root: str, reader: str) -> dict[str, tuple[int, int, int, int]]:
        """path -> (size, mtime_ns, ctime_ns, inode) of the root's files stamped by this reader."""
        with self._lock:
            rows = self._db.execute("SELECT path, size, mtime_ns, ctime_ns, inode FROM file_stamps "
                                    "WHERE root = ? AND reader = ?", (root, reader)).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def put_file_stamps(self, root: str, reader: str, stamps: dict[str, tuple[int, int, int, int]],
                        dropped: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM file_stamps WHERE path = ?", [(p,) for p in dropped])
                self._db.executemany("INSERT OR REPLACE INTO file_stamps VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     [(p, root, *s, reader) for p, s in stamps.items()])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def drop_unreferenced_vectors(self, everything: bool = False) -> int:
        """Drop vectors no chunk uses: among the embed hashes this process's deletions released
        (looked up by index), or, with `everything`, all of them (a scan of both tables: after a
        crash, whose released hashes are lost). Outside a transaction on purpose: no derived store
        mirrors the vectors table, so this must not bump the generation."""
        with self._lock:
            if everything:
                self.released.clear()
                return self._db.execute(
                    "DELETE FROM vectors WHERE embed_hash NOT IN (SELECT DISTINCT embed_hash FROM chunks)").rowcount
            dropped, hashes = 0, sorted(self.released)
            for i in range(0, len(hashes), 500):
                part = hashes[i:i + 500]
                dropped += self._db.execute(
                    f"DELETE FROM vectors WHERE embed_hash IN ({','.join('?' * len(part))}) AND NOT EXISTS "
                    "(SELECT 1 FROM chunks WHERE chunks.embed_hash = vectors.embed_hash)", part).rowcount
            self.released.clear()
            return dropped

    # -- documents --------------------------------------------------------------------------
    def document(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_DOC_COLS} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return DocumentRecord(*row) if row else None

    def documents(self, doc_ids: Iterable[str] | None = None) -> list[DocumentRecord]:
        with self._lock:
            if doc_ids is None:
                rows = self._db.execute(f"SELECT {_DOC_COLS} FROM documents ORDER BY doc_id").fetchall()
            else:
                ids = list(dict.fromkeys(doc_ids))
                rows = []
                for i in range(0, len(ids), 500):
                    part = ids[i:i + 500]
                    rows += self._db.execute(
                        f"SELECT {_DOC_COLS} FROM documents WHERE doc_id IN ({','.join('?' * len(part))})",
                        part).fetchall()
        return [DocumentRecord(*r) for r in rows]

    def document_summaries(self) -> list[dict[str, object]]:
        """Every document's metadata without its text (cheap to list for a large index)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, title, date, source, language, n_chunks, source_path FROM documents "
                "ORDER BY doc_id").fetchall()
        keys = ("doc_id", "title", "date", "source", "language", "chunks", "source_path")
        return [dict(zip(keys, row)) for row in rows]

    def doc_meta(self) -> list[tuple[str, int | None, int | None, str | None]]:
        """(doc_id, date_min, date_max, source) of every document: what the filters read."""
        with self._lock:
            return self._db.execute("SELECT doc_id, date_min, date_max, source FROM documents").fetchall()

    def document_hashes(self, root: str | None = None) -> dict[str, tuple[str, str, str]]:
        """doc_id -> (content_hash, root, source_path), for change detection without loading texts:
        every document's, or one root's (read from the covering index, not the rows)."""
        sql = "SELECT doc_id, content_hash, root, source_path FROM documents INDEXED BY documents_hashes"
        with self._lock:
            rows = self._db.execute(sql + (" WHERE root = ?" if root is not None else ""),
                                    () if root is None else (root,)).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def document_hash(self, doc_id: str) -> tuple[str, str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT content_hash, root, source_path FROM documents WHERE doc_id = ?",
                                   (doc_id,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def counts(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    # -- chunks -----------------------------------------------------------------------------
    def chunks_of(self, doc_id: str) -> list[ChunkRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CHUNK_COLS} FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
        return [ChunkRecord(*r) for r in rows]

    def chunks(self, chunk_ids: Iterable[str]) -> dict[str, ChunkRecord]:
        ids = list(dict.fromkeys(chunk_ids))
        out: dict[str, ChunkRecord] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                for row in self._db.execute(
                        f"SELECT {_CHUNK_COLS} FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})", part):
                    out[row[0]] = ChunkRecord(*row)
        return out

    def iter_chunks(self, batch: int = 2000) -> Iterator[list[ChunkRecord]]:
        """All chunks in a stable order (rowid), in batches, for rebuilding derived stores."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT rowid, {_CHUNK_COLS} FROM chunks WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [ChunkRecord(*r[1:]) for r in rows]

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT chunk_id FROM chunks")}

    def excluded(self) -> dict[str, str]:
        """Documents the user removed: skipped by later syncs until their content changes."""
        with self._lock:
            return dict(self._db.execute("SELECT doc_id, content_hash FROM excluded").fetchall())

    # -- versions (index/version_links.py) --------------------------------------------------------
    def version_candidates(self, keys: list[int]) -> set[str]:
        """Documents whose signature shares at least one LSH band key with `keys` (band_rows)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT s.doc_id FROM version_bands b JOIN signatures s ON s.rowid = b.sig "
                f"WHERE b.key IN ({','.join('?' * len(keys))})", keys).fetchall()
        return {r[0] for r in rows}

    def fill_version_bands(self, band_rows: Callable[[bytes], list[int]], stamp: str) -> int:
        """(Re)build the band table from the stored signatures (an index from before it, or bands of
        another identity), then stamp it. Derived from the signatures, so no generation bump."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM version_bands")
                n = 0
                for rowid, blob in self._db.execute("SELECT rowid, signature FROM signatures").fetchall():
                    self._db.executemany("INSERT OR IGNORE INTO version_bands VALUES (?, ?)",
                                         [(k, rowid) for k in band_rows(blob)])
                    n += 1
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version_bands', ?)", (stamp,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def signatures(self) -> list[tuple[str, bytes]]:
        """(doc_id, MinHash signature bytes) of every document that has one."""
        with self._lock:
            return self._db.execute("SELECT doc_id, signature FROM signatures").fetchall()

    def unsigned_documents(self) -> list[str]:
        """Documents indexed before signatures were kept (or since their identity changed)."""
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT doc_id FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM signatures) ORDER BY doc_id")]

    def version_links(self) -> list[tuple[str, str]]:
        """Every pair of documents that are versions of each other (doc_a < doc_b)."""
        with self._lock:
            return self._db.execute("SELECT doc_a, doc_b FROM version_links").fetchall()

    def bodies(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """doc_id -> text after its header (what versions are compared on)."""
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                for doc_id, text, body_start in self._db.execute(
                        f"SELECT doc_id, text, body_start FROM documents WHERE doc_id IN ({','.join('?' * len(part))})",
                        part):
                    out[doc_id] = text[body_start:]
        return out

    # -- vectors ----------------------------------------------------------------------------
    def vectors(self, embed_hashes: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Stored vectors by embed hash; all of them when no hashes are given."""
        out: dict[str, np.ndarray] = {}
        if embed_hashes is None:
            with self._lock:
                for h, blob in self._db.execute("SELECT embed_hash, vector FROM vectors"):
                    out[h] = np.frombuffer(blob, dtype=np.float32)
            return out
        hashes = list(dict.fromkeys(embed_hashes))
        with self._lock:
            for i in range(0, len(hashes), 500):
                part = hashes[i:i + 500]
                for h, blob in self._db.execute(
                        f"SELECT embed_hash, vector FROM vectors WHERE embed_hash IN ({','.join('?' * len(part))})",
                        part):
                    out[h] = np.frombuffer(blob, dtype=np.float32)
        return out


_DOC_COLS = ("doc_id, root, source_path, title, date, date_min, date_max, source, language, text, "
             "body_start, content_hash, n_chunks, indexed_at")
_CHUNK_COLS = "chunk_id, doc_id, ordinal, start, end, embed_hash, terms"


class _Transaction:
    """One atomic change: a crash leaves the records either before or after it."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.db = records._db

    def __enter__(self) -> _Transaction:
        self.records._lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('generation', "
                    "CAST(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='generation'), 0) + 1 AS TEXT))")
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")
        finally:
            self.records._lock.release()

    def put_document(self, doc: DocumentRecord) -> None:
        self.db.execute(f"INSERT OR REPLACE INTO documents ({_DOC_COLS}) VALUES ({','.join('?' * 14)})", (
            doc.doc_id, doc.root, doc.source_path, doc.title, doc.date, doc.date_min, doc.date_max,
            doc.source, doc.language, doc.text, doc.body_start, doc.content_hash, doc.n_chunks,
            doc.indexed_at))

    def delete_document(self, doc_id: str) -> list[str]:
        """Remove a document and its chunks; returns the chunk ids that went. Their embed hashes are
        kept in `records.released` for drop_unreferenced_vectors."""
        rows = self.db.execute("SELECT chunk_id, embed_hash FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        self.records.released.update(h for _, h in rows)
        self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self._drop_signature(doc_id)
        self.db.execute("DELETE FROM version_links WHERE doc_a = ? OR doc_b = ?", (doc_id, doc_id))
        return [chunk for chunk, _ in rows]

    def put_versions(self, doc_id: str, signature: bytes, links: Iterable[tuple[str, float]]) -> None:
        """A document's MinHash signature, its LSH band keys and its links to the versions already recorded."""
        from index.minhash import band_rows, from_bytes

        self._drop_signature(doc_id)
        rowid = self.db.execute("INSERT INTO signatures VALUES (?, ?)", (doc_id, signature)).lastrowid
        self.db.executemany("INSERT OR IGNORE INTO version_bands VALUES (?, ?)",
                            [(k, rowid) for k in band_rows(from_bytes(signature))])
        self.db.executemany("INSERT OR REPLACE INTO version_links VALUES (?, ?, ?)",
                            [(min(doc_id, o), max(doc_id, o), j) for o, j in links if o != doc_id])

    def _drop_signature(self, doc_id: str) -> None:
        from index.minhash import band_rows, from_bytes

        row = self.db.execute("SELECT rowid, signature FROM signatures WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return
        self.db.executemany("DELETE FROM version_bands WHERE key = ? AND sig = ?",
                            [(k, row[0]) for k in band_rows(from_bytes(row[1]))])
        self.db.execute("DELETE FROM signatures WHERE rowid = ?", (row[0],))

    def clear_versions(self) -> None:
        """Signatures of another identity (index/minhash.py): computed again, links with them."""
        self.db.execute("DELETE FROM signatures")
        self.db.execute("DELETE FROM version_bands")
        self.db.execute("DELETE FROM version_links")

    def put_chunks(self, chunks: Iterable[ChunkRecord]) -> None:
        self.db.executemany(
            f"INSERT OR REPLACE INTO chunks ({_CHUNK_COLS}) VALUES (?,?,?,?,?,?,?)",
            [(c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, c.embed_hash, c.terms) for c in chunks])

    def put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO vectors VALUES (?, ?)",
            [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()])

    def drop_unreferenced_vectors(self) -> int:
        """Among the hashes this process's deletions released (by index, not a scan)."""
        hashes, dropped = sorted(self.records.released), 0
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            dropped += self.db.execute(
                f"DELETE FROM vectors WHERE embed_hash IN ({','.join('?' * len(part))}) AND NOT EXISTS "
                "(SELECT 1 FROM chunks WHERE chunks.embed_hash = vectors.embed_hash)", part).rowcount
        return dropped

    def exclude(self, doc_id: str, content_hash: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO excluded VALUES (?, ?)", (doc_id, content_hash))

    def include(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM excluded WHERE doc_id = ?", (doc_id,))

    def clear_all(self) -> None:
        # `excluded` stays: a document the user removed must not come back with a re-embed.
        for table in ("documents", "chunks", "vectors", "signatures", "version_bands", "version_links",
                      "file_stamps"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM meta WHERE key IN ('embedding_model', 'dimension', 'chunking', "
                        "'chroma_generation')")

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
