"""Incremental version links: a dispatch's signature, its LSH candidates, and the exact check.

One VersionLinker serves one writing operation. The recorded dispatches' candidates come from the
records' band table (BANDS indexed lookups per dispatch, so a run's cost does not grow with the
archive: rebuilding an LSH from every signature took 0.3 s per 20k dispatches at each run); each
dispatch linked in the run goes to a small in-memory LSH at once, so later dispatches of the same
batch find it before their transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from index.minhash import LshIndex, band_rows, from_bytes, identity, signature, to_bytes
from index.versions import JACCARD_MIN, jaccard, shingles

if TYPE_CHECKING:
    from index.records import Records

Link = tuple[str, float]  # (other doc_id, exact Jaccard)


class VersionLinker:
    """`stored`: (doc_id, signature bytes) of every indexed dispatch; `texts_of`: doc_id -> text to
    shingle (the body) for the candidates, read only when a candidate comes up."""

    def __init__(self, stored: Iterable[tuple[str, bytes]],
                 texts_of: Callable[[list[str]], dict[str, str]],
                 recorded: Callable[[list[int]], set[str]] | None = None) -> None:
        """`recorded`: band keys (band_rows) -> recorded doc_ids sharing one (the records' band
        table), instead of `stored` signatures loaded in memory."""
        rows = list(stored)
        sigs = np.stack([from_bytes(blob) for _, blob in rows]) if rows else None
        self.lsh = LshIndex([doc_id for doc_id, _ in rows], sigs)
        self.recorded = recorded
        self.dropped: set[str] = set()  # recorded dispatches forgotten or signed again in this run
        self.texts_of = texts_of
        self.pending: dict[str, str] = {}  # linked here, not yet readable through texts_of
        self.candidates_checked = 0

    def _candidates(self, sig: np.ndarray) -> set[str]:
        found = self.lsh.candidates(sig)
        if self.recorded is not None:
            # A dispatch signed again in this run is in the in-memory LSH under its new signature;
            # its old band keys may still be recorded (until its transaction): skip those.
            found |= self.recorded(band_rows(sig)) - self.dropped
        return found

    def link(self, doc_id: str, body: str) -> tuple[np.ndarray, list[Link]]:
        """The dispatch's signature and its links to every indexed version (itself excluded)."""
        own = shingles(body)
        sig = signature(own)
        self.lsh.remove(doc_id)  # a changed dispatch: its old signature must not match itself
        self.dropped.add(doc_id)
        found = sorted(self._candidates(sig) - {doc_id})
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
        self.dropped.add(doc_id)
        self.pending.pop(doc_id, None)

    def committed(self) -> None:
        """The pending dispatches are in the records now: their texts need not be kept."""
        self.pending.clear()


def open_linker(records: Records) -> VersionLinker:
    """A linker over every signature the records hold, found through their band table."""
    return VersionLinker((), records.bodies, records.version_candidates)


def bands_identity() -> str:
    return f"{identity()}/bands-v1"


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
    if records.get_meta("version_bands") != bands_identity():
        # An index from before the band table (or with another band layout): filled once, from the
        # signatures (about 1 s per 20k dispatches).
        records.fill_version_bands(lambda blob: band_rows(from_bytes(blob)), bands_identity())
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
