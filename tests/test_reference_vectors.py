"""The answer's reference sentences are encoded once per machine and model, then read from disk."""

from __future__ import annotations

import numpy as np
import pytest

TEXTS = ("Le port de Brest a rouvert lundi.", "La Banque de France prévoit une croissance de 1 %.")


def test_reference_vectors_are_read_back_from_disk_and_a_damaged_file_is_computed_again(embedder, tmp_path,
                                                                                       monkeypatch):
    from index import embedding

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(embedder, "_references", {})
    first = embedder.reference_vectors(TEXTS)
    path = embedding._references_path(embedder.identity, TEXTS)
    assert path.is_file() and str(path).startswith(str(tmp_path))
    np.testing.assert_allclose(first, embedder.embed(list(TEXTS), count=False), atol=1e-6)

    monkeypatch.setattr(embedder, "_references", {})  # a new process: nothing in memory

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded again")

    with monkeypatch.context() as m:
        m.setattr(embedder, "embed", no_encoding)
        assert np.array_equal(embedder.reference_vectors(TEXTS), first)
        monkeypatch.setattr(embedder, "_references", {})
        path.write_bytes(b"garbage")
        with pytest.raises(AssertionError, match="encoded again"):
            embedder.reference_vectors(TEXTS)
    monkeypatch.setattr(embedder, "_references", {})
    assert np.array_equal(embedder.reference_vectors(TEXTS), first)  # computed, saved again
    assert embedding._load_references(embedder.identity, TEXTS, embedder.dimension) is not None
    assert embedding._load_references(embedder.identity, TEXTS[:1], embedder.dimension) is None  # other texts
