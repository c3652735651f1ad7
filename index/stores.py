"""The Chroma vector store (embedded on disk, or a Chroma server), through llama-index.

Vectors are always passed in: the collection is created without an embedding function, so
Chroma's default one (which downloads a model) can never run.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.errors import DispatchQAError
from index.keyword import Filters

log = logging.getLogger("dispatch_qa.stores")

class StoreError(DispatchQAError, RuntimeError):
    """The vector store cannot be opened or used; the message says what to do."""


GENERATION_KEY = "dispatch_qa_generation"  # collection metadata: the records generation it mirrors

# Failures that say nothing about the files' integrity: the store must never be wiped for these.
_NOT_DAMAGE_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EMFILE, errno.ENFILE,
                      errno.EDQUOT, errno.EBUSY, errno.EAGAIN, errno.ENOMEM}
_NOT_DAMAGE_WORDS = ("locked", "permission denied", "read-only", "readonly", "no space", "disk full",
                     "too many open files", "out of memory", "cannot allocate", "not installed")


def is_damage(exc: BaseException) -> bool:
    """Whether a failure to open the embedded store means its files are damaged (rebuild them) rather
    than an environment problem: permissions, a full or read-only disk, a lock, a missing package."""
    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        if isinstance(e, (ImportError, MemoryError, PermissionError)):
            return False
        if isinstance(e, OSError) and e.errno in _NOT_DAMAGE_ERRNOS:
            return False
        if any(word in str(e).lower() for word in _NOT_DAMAGE_WORDS):
            return False
    return True


@dataclass(frozen=True)
class ChromaConfig:
    mode: Literal["embedded", "server"]
    path: Path
    host: str
    port: int
    collection: str

    @property
    def location(self) -> str:
        return str(self.path) if self.mode == "embedded" else f"http://{self.host}:{self.port}"


_COLLECTION_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")


def check_collection_name(name: str) -> None:
    """Refuse a name Chroma would reject before anything is opened: a failed open of an embedded
    store is taken for damage and rebuilds it, which a typo in a setting must never trigger."""
    if not _COLLECTION_NAME_RE.fullmatch(name) or ".." in name:
        raise StoreError(f"collection: '{name}' is not a valid Chroma collection name (3 to 512 letters, digits, "
                         "'.', '_' or '-', starting and ending with a letter or digit)")


def _client(config: ChromaConfig) -> Any:
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise StoreError("chromadb is not installed: run `make setup` or `pip install chromadb`") from None
    # Telemetry off for this client whatever the environment says (the entry points also set
    # ANONYMIZED_TELEMETRY=False through assistant.environment.quiet_environment).
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if config.mode == "server":
        try:
            return chromadb.HttpClient(host=config.host, port=config.port, settings=settings)
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {config.location} ({exc}); start it with "
                f"`chroma run --host {config.host} --port {config.port}` or unset store_mode=server"
            ) from exc
    config.path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.path), settings=settings)


class VectorStore:
    """One Chroma collection in cosine space, addressed through llama-index's ChromaVectorStore."""

    def __init__(self, config: ChromaConfig) -> None:
        check_collection_name(config.collection)
        self.config = config
        self.repaired: str | None = None  # what opening it had to fix, reported once by the next sync
        self.opened_count: int | None = None  # chunks it held when open_checked opened it
        self._client = _client(config)
        try:
            self._collection = self._client.get_or_create_collection(
                config.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection '{config.collection}' at "
                             f"{config.location}: {exc}") from exc
        self._llama_store: Any = None

    @property
    def llama_store(self) -> Any:
        """llama-index's view of the collection, for filtered queries; imported on first use
        (~1 s of imports that indexing and unfiltered questions never need)."""
        if self._llama_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._llama_store = ChromaVectorStore(chroma_collection=self._collection)
        return self._llama_store

    @classmethod
    def open_checked(cls, config: ChromaConfig) -> VectorStore:
        """Open and touch the collection so a damaged store fails here, not mid-question."""
        store = cls(config)
        store.opened_count = store.count()  # one count: 1.1 s each on a 1M-chunk embedded store
        if store.opened_count:
            store._collection.peek(limit=1)
        return store

    def count(self) -> int:
        return int(self._collection.count())

    @property
    def generation(self) -> int | None:
        """The records generation this collection was last brought in step with (None: never)."""
        value = (self._collection.metadata or {}).get(GENERATION_KEY)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def set_generation(self, generation: int) -> None:
        self._collection.modify(metadata={GENERATION_KEY: int(generation)})

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._collection.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(got)
            if len(got) < page:
                return ids
            offset += page

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Replace-or-add by deterministic id: vectors and the filter metadata only.

        No chunk text and no llama-index node JSON: the records hold the text, and writing it
        here too was two thirds of the time of a write (indexing 1,000 articles: ~4 s of ~80).
        llama-index still reads this collection (filtered queries) through its legacy metadata path.
        """
        if not ids:
            return
        step = self._max_batch
        for i in range(0, len(ids), step):
            self._collection.upsert(ids=list(ids[i:i + step]), embeddings=np.asarray(vectors[i:i + step]),
                                    metadatas=list(metadatas[i:i + step]))

    @cached_property
    def _max_batch(self) -> int:
        """Chroma's own limit per call (asked of the server once, not per write)."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            return max(1, int(self._client.get_max_batch_size()))
        except (ChromaError, httpx.HTTPError) as exc:  # a server too old to say: Chroma's long-standing limit
            log.warning("Chroma did not give its batch limit (%s); writing 5000 records per call", exc)
            return 5000

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._collection.delete(ids=ids[i:i + 5000])

    def query(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk_id, cosine similarity), best first."""
        if filters is None or not filters.active:
            # Ids and distances straight from Chroma: building llama-index nodes (text, metadata)
            # for every candidate, plus a count() per question, cost ~5x the search itself.
            try:
                got = self._collection.query(query_embeddings=[vector.tolist()], n_results=k,
                                             include=["distances"])
            except Exception:
                if self.count() == 0:
                    return []
                raise
            return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0])]
        if self.count() == 0:
            return []
        from llama_index.core.vector_stores.types import VectorStoreQuery

        query = VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=k,
                                 filters=_llama_filters(filters))
        result = self.llama_store.query(query)
        # ChromaVectorStore reports exp(-distance); cosine similarity is 1 - distance.
        sims = [1.0 + float(np.log(max(s, 1e-30))) for s in (result.similarities or [])]
        return list(zip(result.ids or [], sims))

    def reset(self) -> None:
        """Drop and recreate the collection (before a rebuild from the records)."""
        from chromadb.errors import NotFoundError

        try:
            self._client.delete_collection(self.config.collection)
        except NotFoundError:
            log.info("collection '%s' was already gone before the reset", self.config.collection)
        self._collection = self._client.get_or_create_collection(
            self.config.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        self._llama_store = None


def wipe_embedded_store(config: ChromaConfig) -> None:
    """Remove a damaged on-disk store entirely; the records rebuild it."""
    if config.mode == "embedded" and config.path.exists():
        release_clients()  # a cached client would keep writing into the removed files
        if config.path.is_dir() and not config.path.is_symlink():
            shutil.rmtree(config.path)
        else:  # a file (or link) where the store's folder belongs
            config.path.unlink()


def release_clients() -> None:
    """Forget cached Chroma clients so the next open sees what another process wrote."""
    try:
        from chromadb.api.client import SharedSystemClient
    except ImportError:  # chromadb missing: no client was ever cached (_client says how to install it)
        return
    SharedSystemClient.clear_system_cache()


def _llama_filters(filters: Filters | None) -> Any:
    if filters is None or not filters.active:
        return None
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )

    parts: list[Any] = []
    if filters.date_from is not None:
        parts.append(MetadataFilter(key="date_max", value=filters.date_from, operator=FilterOperator.GTE))
    if filters.date_to is not None:
        parts.append(MetadataFilter(key="date_min", value=filters.date_to, operator=FilterOperator.LTE))
        parts.append(MetadataFilter(key="date_min", value=0, operator=FilterOperator.GTE))
    if filters.sources:
        parts.append(MetadataFilter(key="source", value=[x.casefold() for x in filters.sources], operator=FilterOperator.IN))
    return MetadataFilters(filters=parts, condition=FilterCondition.AND)
