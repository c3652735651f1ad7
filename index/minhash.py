"""MinHash signatures of shingle sets (datasketch) and the LSH index that finds version candidates.

The LSH only proposes candidates; index/versions.py's exact Jaccard decides. So the bands are set
for recall at the definition's threshold, not for precision: with r rows per band and b bands, a
pair of Jaccard s is proposed with probability 1 - (1 - s^r)^b. At r = 3, b = 42 (126 of 128
permutations) that is 0.996 at s = 0.5 and 0.9999 at s = 0.6, while a pair at s = 0.1 is proposed
with probability 0.04 (and verified away). docs/notes/versions.md has the measured figures.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np

NUM_PERM = 128
BANDS, ROWS = 42, 3
SEED = 1
SCHEME = "affine32"  # datasketch >= 2.0's default; named so that a stored signature stays comparable


def identity() -> str:
    """What the stored signatures depend on; another value means they are computed again."""
    from index.versions import JACCARD_MIN, SHINGLE_WORDS

    return f"minhash-v1/words{SHINGLE_WORDS}/crc32/{SCHEME}/perm{NUM_PERM}/seed{SEED}/lsh{BANDS}x{ROWS}/j{JACCARD_MIN}"


_template: Any = None


def _minhash() -> Any:
    """An empty datasketch MinHash sharing one set of permutations (drawing them costs more than hashing a text)."""
    global _template
    from datasketch import MinHash

    if _template is None:
        _template = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=_identity)
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=_identity,
                   permutations=_template.permutations)


def _identity(value: int) -> int:
    return value


def signature(shingle_set: Iterable[str]) -> np.ndarray:
    """NUM_PERM uint32 minima over the shingles' CRC-32 (stable across processes, unlike hash())."""
    m = _minhash()
    m.update_batch([zlib.crc32(s.encode("utf-8")) for s in shingle_set])
    return np.asarray(m.hashvalues, dtype=np.uint32)


def to_bytes(sig: np.ndarray) -> bytes:
    return np.asarray(sig, dtype="<u4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


# Odd 64-bit multipliers mixing a band's ROWS values into one key. Two different bands may share a key
# (about 2^-64 per pair): that only adds a candidate, which the exact Jaccard then turns down.
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93][:ROWS],
                dtype=np.uint64)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64 keys: two signatures share a key in band i when their ROWS values there are equal."""
    rows = np.asarray(sigs, dtype=np.uint32)[:, :BANDS * ROWS].reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    mixed = rows * _MIX
    out = mixed[:, :, 0]
    for i in range(1, ROWS):
        out = out ^ (mixed[:, :, i] + (out << np.uint64(7)))
    return out


# One constant per band folded into its key, so that one table column holds every band's keys.
_BAND_SALT = (np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def band_rows(sig: np.ndarray) -> list[int]:
    """The signature's BANDS keys as signed 64-bit integers (SQLite's INTEGER), one per band, for the
    records' band table: two signatures share a value when they share a band (collisions between
    bands only add candidates, which the exact Jaccard turns down)."""
    if np.asarray(sig).size < BANDS * ROWS:  # not a signature of this scheme: nothing to be found by
        return []
    salted = band_keys(np.asarray(sig)[None, :])[0] ^ _BAND_SALT
    return salted.view(np.int64).tolist()


class LshIndex:
    """MinHash LSH (BANDS bands of ROWS rows): doc_id -> signature; insert, remove, candidates.

    Not datasketch's MinHashLSH: rebuilding that from 20k stored signatures took 6.4 s (a dict insert
    per band and document), paid by every indexing run that writes. Here the stored signatures become
    one sorted array of keys per band (0.3 s for 20k, numpy); dispatches added during the run go to a
    small dict, removed ones to a mask. Same candidates as MinHashLSH with the same bands.
    """

    def __init__(self, doc_ids: list[str] | None = None, sigs: np.ndarray | None = None) -> None:
        self._base_ids = list(doc_ids or [])
        keys = band_keys(sigs) if self._base_ids else np.zeros((0, BANDS), dtype=np.uint64)
        self._order = np.argsort(keys, axis=0, kind="stable")
        self._sorted = np.take_along_axis(keys, self._order, axis=0)
        self._base_pos = {d: i for i, d in enumerate(self._base_ids)}
        self._removed: set[str] = set()
        self._added: dict[str, np.ndarray] = {}
        self._buckets: list[dict[int, set[str]]] = [{} for _ in range(BANDS)]

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._added or (doc_id in self._base_pos and doc_id not in self._removed)

    def insert(self, doc_id: str, sig: np.ndarray) -> None:
        self.remove(doc_id)
        keys = band_keys(np.asarray(sig)[None, :])[0]
        self._added[doc_id] = keys
        for band, key in enumerate(keys.tolist()):
            self._buckets[band].setdefault(key, set()).add(doc_id)

    def remove(self, doc_id: str) -> None:
        if doc_id in self._base_pos:
            self._removed.add(doc_id)
        keys = self._added.pop(doc_id, None)
        if keys is not None:
            for band, key in enumerate(keys.tolist()):
                self._buckets[band][key].discard(doc_id)

    def candidates(self, sig: np.ndarray) -> set[str]:
        keys = band_keys(np.asarray(sig)[None, :])[0]
        found: set[str] = set()
        for band, key in enumerate(keys):
            column = self._sorted[:, band]
            lo, hi = np.searchsorted(column, key, "left"), np.searchsorted(column, key, "right")
            found.update(self._base_ids[i] for i in self._order[lo:hi, band].tolist())
            found |= self._buckets[band].get(int(key), set())
        return {d for d in found if d in self}
