"""Version clusters on the query side: one passage per cluster (its newest version), and every
citation's other versions (`versions` in the JSON).

Clusters are read from the links the indexer recorded (index/version_links.py); a document in no
link is alone, its `cluster_id` its own id. A cluster's id is its smallest doc_id: stable while
that member stays, and the same in every process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from index.keyword import Filters
from index.records import ChunkRecord, DocumentRecord, Records
from index.versions import clusters, members_by_cluster, newest_key


class VersionClusters:
    """The clusters of one index generation."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.cluster_of = clusters(records.version_links())
        self.members = members_by_cluster(self.cluster_of)

    def cluster_id(self, doc_id: str) -> str:
        return self.cluster_of.get(doc_id, doc_id)

    def members_of(self, doc_id: str) -> list[str]:
        return self.members.get(self.cluster_id(doc_id), [doc_id])

    def newest_versions(self, doc_ids: Iterable[str], filters: Filters | None) -> dict[str, str]:
        """doc_id -> the newest member of its cluster that the filters let through, for clustered
        documents among `doc_ids` (the others stand for themselves)."""
        clustered = {d for d in doc_ids if d in self.cluster_of}
        if not clustered:
            return {}
        wanted = {m for d in clustered for m in self.members_of(d)}
        docs = [d for d in self.records.documents(wanted) if passes(d, filters)]
        best: dict[str, DocumentRecord] = {}
        for d in docs:
            cid = self.cluster_id(d.doc_id)
            if cid not in best or newest_key(d.doc_id, d.date) > newest_key(best[cid].doc_id, best[cid].date):
                best[cid] = d
        return {d: best[self.cluster_id(d)].doc_id for d in clustered if self.cluster_id(d) in best}

    def others(self, doc_id: str) -> list[dict[str, Any]]:
        """The other members of the document's cluster, newest first, as the JSON shows them."""
        ids = [m for m in self.members_of(doc_id) if m != doc_id]
        if not ids:
            return []
        docs = sorted(self.records.documents(ids), key=lambda d: newest_key(d.doc_id, d.date), reverse=True)
        return [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "source": d.source} for d in docs]


def passes(doc: DocumentRecord, filters: Filters | None) -> bool:
    """The keyword index's filter (index/keyword.py allowed_chunks) on one document."""
    if filters is None or not filters.active:
        return True
    if filters.date_from is not None and (doc.date_max is None or doc.date_max < filters.date_from):
        return False
    if filters.date_to is not None and (doc.date_min is None or doc.date_min > filters.date_to):
        return False
    return not filters.sources or (doc.source or "").casefold() in {s.casefold() for s in filters.sources}


def one_version_each(ids: list[str], chunks: dict[str, ChunkRecord], versions: VersionClusters,
                     filters: Filters | None) -> list[str]:
    """The candidate chunk ids with only the newest version of each cluster: an older version's
    chunks go, and the newest version's chunks come in even when retrieval did not return them
    (`chunks` receives their records) so that they are scored like the others."""
    newest = versions.newest_versions({chunks[i].doc_id for i in ids}, filters)
    if not newest:
        return ids
    present = {chunks[i].doc_id for i in ids}
    for doc_id in set(newest.values()) - present:
        for c in versions.records.chunks_of(doc_id):
            chunks[c.chunk_id] = c
            ids.append(c.chunk_id)
    return [i for i in ids if newest.get(chunks[i].doc_id, chunks[i].doc_id) == chunks[i].doc_id]


def add_versions(answer: Any, versions: VersionClusters) -> None:
    """Each citation and related passage lists the other versions of its dispatch."""
    for citation in [*answer.citations, *answer.related]:
        citation.versions = versions.others(citation.doc_id)
