"""Synthetic archives for `bench scale`: the news corpus replicated under new ids, vectors reused.

Exact copies would be versions of each other (word 5-gram Jaccard 1.0, index/versions.py): every
replica would join its original's cluster and retrieval would collapse them to one passage. So
replica K >= 1 swaps adjacent plain words at random positions (seeded by K and the id): the same
multiset of whitespace tokens (same BM25 statistics, same token counts, hence the same chunks) but
word 5-grams that no other replica shares, so its Jaccard with the original stays far below 0.5.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import split_sentences
from index.titles import first_sentence, shorten

SWAP_PROBABILITY = 0.45
NOISE = 0.02  # per-coordinate noise on reused vectors: replicas are near, never identical, points
_PLAIN_WORD = re.compile(r"^[a-zàâäçéèêëîïôöùûüÿœæ]+$")
_TOKENS = re.compile(r"(\s+)")


def replica_id(doc_id: str, replica: int) -> str:
    """Replica 0 is the original; replica K gets the suffix `#rK`."""
    return doc_id if replica == 0 else f"{doc_id}#r{replica}"


def vary_text(text: str, replica: int, doc_id: str) -> str:
    """Replica 0 unchanged; otherwise adjacent plain lower-case words swapped at seeded positions.

    Whitespace stays where it was and only whole tokens move, so sentence bounds and the token
    multiset are kept (capitalised words, numbers and punctuated tokens never move)."""
    if replica == 0:
        return text
    rng = random.Random(f"{replica}\x00{doc_id}")
    parts = _TOKENS.split(text)  # words at even positions, whitespace at odd ones
    i = 0
    while i + 2 < len(parts):
        a, b = parts[i], parts[i + 2]
        if _PLAIN_WORD.match(a) and _PLAIN_WORD.match(b) and a != b and "\n" not in parts[i + 1] \
                and rng.random() < SWAP_PROBABILITY:
            parts[i], parts[i + 2] = b, a
            i += 4
        else:
            i += 2
    return "".join(parts)


def bag_key(text: str) -> str:
    """The multiset of whitespace tokens: equal for a chunk and its replicas."""
    return hashlib.sha1("\x00".join(sorted(text.split())).encode()).hexdigest()


def sentence_key(text: str, titles: frozenset[str] = frozenset()) -> str:
    """Key of a chunk's vector: the token multiset of its first sentence, after the title line the
    indexer may have put first (one of `titles`). A replica's sentences keep their tokens (swaps
    never cross punctuation), so a replica finds its original; and an index built without titles,
    or with chunks cut a little differently, still lends the vector of the chunk holding that sentence."""
    first_line, newline, rest = text.partition("\n")
    body = rest if newline and first_line in titles else text
    first = next(iter(split_sentences(body)), None) if body.strip() else None
    return bag_key(body[first.start:first.end] if first is not None else body)


def corpus_titles(records: list[dict[str, Any]]) -> frozenset[str]:
    """The titles the loader gives these records (index/formats/json.py), as the indexer may cut them."""
    out: set[str] = set()
    for record in records:
        title = record.get("title")
        title = shorten(title) if isinstance(title, str) and title.strip() else first_sentence(record["text"])
        if title:
            out.update((title, title[:120]))
    return frozenset(out)


def all_sentence_keys(text: str) -> list[str]:
    """The keys under which an existing chunk lends its vector: one per sentence."""
    return [bag_key(text[s.start:s.end]) for s in split_sentences(text)]


def read_corpus(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or "id" not in record or "text" not in record:
                raise ValueError(f"{path}: line {n}: expected a JSON object with 'id' and 'text'")
            records.append(record)
    return records


def fill_plan(counts: Sequence[tuple[str, int]], wanted: int) -> list[str]:
    """Doc ids whose chunk counts add up to `wanted` (greedy, in corpus order; exact when 1-chunk
    documents remain to fill the end)."""
    chosen, left = [], wanted
    for doc_id, n in counts:
        if left <= 0:
            break
        if n <= left:
            chosen.append(doc_id)
            left -= n
    return chosen


def replicas(records: list[dict[str, Any]], replica: int, ids: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The records of replica `replica` (only `ids` when given), ready to write as JSONL."""
    for record in records:
        doc_id = str(record["id"])
        if ids is not None and doc_id not in ids:
            continue
        yield {**record, "id": replica_id(doc_id, replica), "text": vary_text(record["text"], replica, doc_id)}


def write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def noisy(vector: np.ndarray, text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
    noise = np.random.default_rng(seed).standard_normal(vector.shape[0]).astype(np.float32) * NOISE
    out = vector + noise
    return (out / np.linalg.norm(out)).astype(np.float32)


class ReplicaEmbedder:
    """The real Embedder (tokenizer, queries, identity) whose passage vectors come from a cache keyed
    by the tokens of the chunk's first sentence (sentence_keys): each distinct chunk is encoded once (or read from an existing index
    of the corpus), its replicas reuse the vector. `embed_seconds` is the time spent really encoding."""

    def __init__(self, inner: Any, known: dict[str, np.ndarray] | None = None,
                 titles: frozenset[str] = frozenset()) -> None:
        self.inner = inner
        self.titles = titles
        self.known = dict(known or {})
        self.embed_seconds = 0.0
        self.encoded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str], show_progress: bool = False, query: bool = False,
              count: bool = True) -> np.ndarray:
        if query or not count:
            return self.inner.embed(texts, show_progress=show_progress, query=query, count=count)
        keys = [sentence_key(t, self.titles) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in self.known:
                missing.setdefault(k, t)  # the first text of a key: the original before its replicas
        if missing:
            started = time.perf_counter()
            fresh = self.inner.embed(list(missing.values()))
            self.embed_seconds += time.perf_counter() - started
            self.encoded += len(missing)
            self.known.update(zip(missing.keys(), fresh))
        if not texts:
            return np.zeros((0, self.inner.dimension), dtype=np.float32)
        return np.stack([noisy(self.known[k], t) for k, t in zip(keys, texts)])
