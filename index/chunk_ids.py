"""What a chunk is called: the chunking identity, the text the encoder sees, and the ids and hashes
derived from them. Pure: the same dispatch cut the same way gets the same ids in any process, which
is what lets a sync reuse stored vectors and tell what changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from index.chunking import CHUNKING_VERSION, Chunk
from index.french import ANALYZER_VERSION


@dataclass(frozen=True)
class ChunkingConfig:
    """Settings chunk_max_tokens, chunk_overlap_sentences and embed_titles (no defaults of its own)."""

    max_tokens: int
    overlap_sentences: int
    embed_titles: bool

    @property
    def identity(self) -> str:
        return (f"chunking-{CHUNKING_VERSION}/max{self.max_tokens}/overlap{self.overlap_sentences}/"
                f"titles{int(self.embed_titles)}/{ANALYZER_VERSION}")


def embed_hash(identity: str, text: str) -> str:
    return hashlib.sha256(f"{identity}\x00{text}".encode()).hexdigest()[:32]


def chunk_id(doc_id: str, chunk: Chunk, ehash: str) -> str:
    key = f"{doc_id}\x00{chunk.ordinal}\x00{chunk.start}\x00{chunk.end}\x00{ehash}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def embed_text_for(title: str | None, chunk_text: str, embed_titles: bool) -> str:
    """What the encoder and the keyword index see: the title gives a chunk its subject."""
    if not embed_titles or not title or chunk_text.startswith(title[:40]):
        return chunk_text
    return f"{title}\n{chunk_text}"
