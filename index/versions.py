"""Versions of one wire copy: word 5-gram shingles, their exact Jaccard, clusters of linked dispatches.

Pure functions only (no SQLite, no datasketch): the definition everything else is measured against.
Two dispatches are versions of each other when the Jaccard similarity of their word 5-gram sets
(lower-cased, accents kept) is at least JACCARD_MIN; a cluster is a connected component of such
links, so a re-issue that drifted from the first version still sits with the one in between.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SHINGLE_WORDS = 5
JACCARD_MIN = 0.5

_WORD_RE = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased words; accents kept ("été" and "ete" differ), punctuation and apostrophes split."""
    return _WORD_RE.findall(text.lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of word `size`-grams; a text shorter than that is one shingle of all its words."""
    ws = words(text)
    if len(ws) < size:
        return {" ".join(ws)} if ws else set()
    return {" ".join(ws[i:i + size]) for i in range(len(ws) - size + 1)}


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 for two empty sets (an empty text is nobody's version)."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def are_versions(a: set, b: set) -> bool:
    return jaccard(a, b) >= JACCARD_MIN


def clusters(links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """doc_id -> cluster id (the smallest doc_id of its connected component), for linked documents
    only: a document in no link is alone, and its cluster id is its own id."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            # The smaller id becomes the root, so the root is the component's smallest id.
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def members_by_cluster(cluster_of: dict[str, str]) -> dict[str, list[str]]:
    """cluster id -> its members, sorted."""
    out: dict[str, list[str]] = {}
    for doc_id, cid in cluster_of.items():
        out.setdefault(cid, []).append(doc_id)
    return {cid: sorted(ids) for cid, ids in out.items()}


def newest_key(doc_id: str, date: str | None) -> tuple[str, str]:
    """Sort key of the newest version: the later ISO date (an undated one is oldest; "2025-03"
    sorts before "2025-03-14"), then the larger id."""
    return (date or "", doc_id)
