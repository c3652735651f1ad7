"""MinHash signatures of shingle sets and the LSH index that finds version candidates (datasketch).

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


def _minhash(hashvalues: np.ndarray | None = None) -> Any:
    """A datasketch MinHash sharing one set of permutations (drawing them costs more than hashing a text)."""
    global _template
    from datasketch import MinHash

    if _template is None:
        _template = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=_identity)
    if hashvalues is None:
        return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, hashfunc=_identity,
                       permutations=_template.permutations)
    return MinHash(seed=SEED, scheme=SCHEME, hashfunc=_identity, hashvalues=hashvalues,
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


class LshIndex:
    """doc_id -> signature in datasketch's MinHashLSH; insert, remove, candidates."""

    def __init__(self) -> None:
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._lsh

    def insert(self, doc_id: str, sig: np.ndarray) -> None:
        if doc_id in self._lsh:
            self._lsh.remove(doc_id)
        self._lsh.insert(doc_id, _minhash(sig), check_duplication=False)

    def remove(self, doc_id: str) -> None:
        if doc_id in self._lsh:
            self._lsh.remove(doc_id)

    def candidates(self, sig: np.ndarray) -> set[str]:
        return set(self._lsh.query(_minhash(sig)))
