"""Incremental version links: a dispatch's signature, its LSH candidates, and the exact check.

One VersionLinker serves one writing operation. Its LSH is built from the signatures stored in
the records (the source of truth, so nothing is lost to a crash or `--rebuild`); each dispatch
linked is inserted at once, so later dispatches of the same batch find it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from index.minhash import LshIndex, from_bytes, identity, signature, to_bytes
from index.versions import JACCARD_MIN, jaccard, shingles

if TYPE_CHECKING:
    from index.records import Records

Link = tuple[str, float]  # (other doc_id, exact Jaccard)


class VersionLinker:
    """`stored`: (doc_id, signature bytes) of every indexed dispatch; `texts_of`: doc_id -> text to
    shingle (the body) for the candidates, read only when a candidate comes up."""

    def __init__(self, stored: Iterable[tuple[str, bytes]],
                 texts_of: Callable[[list[str]], dict[str, str]]) -> None:
        rows = list(stored)
        sigs = np.stack([from_bytes(blob) for _, blob in rows]) if rows else None
        self.lsh = LshIndex([doc_id for doc_id, _ in rows], sigs)
        self.texts_of = texts_of
        self.pending: dict[str, str] = {}  # linked here, not yet readable through texts_of
        self.candidates_checked = 0

    def link(self, doc_id: str, body: str) -> tuple[np.ndarray, list[Link]]:
        """The dispatch's signature and its links to every indexed version (itself excluded)."""
        own = shingles(body)
        sig = signature(own)
        self.lsh.remove(doc_id)  # a changed dispatch: its old signature must not match itself
        found = sorted(self.lsh.candidates(sig) - {doc_id})
        links: list[Link] = []
        if found:
            texts = {d: self.pending[d] for d in found if d in self.pending}
            missing = [d for d in found if d not in texts]
            if missing:
                texts.update(self.texts_of(missing))
            self.candidates_checked += len(found)
            for other in found:
                if other in texts:
                    j = jaccard(own, shingles(texts[other]))
                    if j >= JACCARD_MIN:
                        links.append((other, round(j, 4)))
        self.lsh.insert(doc_id, sig)
        self.pending[doc_id] = body
        return sig, links

    def forget(self, doc_id: str) -> None:
        self.lsh.remove(doc_id)
        self.pending.pop(doc_id, None)

    def committed(self) -> None:
        """The pending dispatches are in the records now: their texts need not be kept."""
        self.pending.clear()


def open_linker(records: Records) -> VersionLinker:
    """A linker over every signature the records hold (the LSH is rebuilt, never stored: 0.3 s for
    20k dispatches, docs/notes/versions.md)."""
    return VersionLinker(records.signatures(), records.bodies)


def adopt_versions(records: Records, batch: int = 500) -> int:
    """Sign and link the documents that have no signature: an index from before versions were kept,
    or one whose signatures another identity made (index/minhash.py). How many were signed."""
    wanted = identity()
    recorded = records.get_meta("versions")
    if recorded != wanted:
        if recorded is not None:
            with records.transaction() as tx:
                tx.clear_versions()
        # No transaction: stamping the identity alone changes nothing the derived stores mirror.
        records.set_meta("versions", wanted)
    unsigned = records.unsigned_documents()
    if not unsigned:
        return 0
    linker = open_linker(records)
    for i in range(0, len(unsigned), batch):
        bodies = records.bodies(unsigned[i:i + batch])
        rows = [(doc_id, *linker.link(doc_id, body)) for doc_id, body in bodies.items()]
        with records.transaction() as tx:
            for doc_id, sig, links in rows:
                tx.put_versions(doc_id, to_bytes(sig), links)
        linker.committed()
    return len(unsigned)
