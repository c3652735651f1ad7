"""`dispatch-qa bench`: the reports have their shape and their figures are consistent (no timing goals)."""

from __future__ import annotations

import json

import pytest
from conftest import ORANGESUM

from assistant.cli import main

# The OrangeSum corpus lives outside the repository (../shared/data) and is not on every machine.
needs_orangesum = pytest.mark.skipif(not ORANGESUM.is_file(),
                                     reason=f"needs the shared OrangeSum corpus, not found at {ORANGESUM}")


@needs_orangesum
def test_bench_ingest_measures_project_raw_encode_and_reindex(tmp_path):
    out = tmp_path / "ingest.json"
    code = main(["bench", "ingest", "--corpus", str(ORANGESUM), "--limit", "4", "--skip-llama",
                 "--work-dir", str(tmp_path / "work"), "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    project = report["project"]
    assert report["limit"] == 4 and project["documents"] == 4
    assert project["chunks_embedded"] == project["chunks"] > 0
    assert project["documents_per_s"] > 0 and project["peak_rss_mb"] > 0
    assert report["raw_encode"]["chunks"] == project["chunks"]  # the very same chunk texts
    assert report["raw_encode_fp32"]["chunks_per_s"] > 0
    assert report["reindex_unchanged"]["chunks_embedded"] == 0
    grown = report["reindex_plus_1pct"]
    assert grown["documents_added"] == 1 and grown["chunks_embedded"] > 0
    ratios = report["ratios"]
    assert ratios["project_vs_raw_encode_chunks_per_s"] > 0 and ratios["project_vs_llama_index_documents_per_s"] is None
    assert report["machine"]["cores"] >= 1


@needs_orangesum
def test_bench_query_compares_ask_with_raw_components(tmp_path):
    out = tmp_path / "query.json"
    code = main(["bench", "query", "--corpus", str(ORANGESUM), "--limit", "5", "--n", "4",
                 "--data-dir", str(tmp_path / "data"), "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["documents"] == 5 and report["questions"] == 4
    assert report["ask_ms"]["p95"] >= report["ask_ms"]["p50"] > 0
    assert report["raw_components_ms"]["p50"] > 0
    assert set(report["components_ms"]) == {"embed", "chroma", "keyword", "sentences"}
    assert report["ratio_p95"] > 0


def test_bench_refuses_a_corpus_that_is_not_jsonl(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Un texte.", encoding="utf-8")
    assert main(["bench", "ingest", "--corpus", str(corpus), "--limit", "2"]) == 1
    assert "JSONL corpus" in capsys.readouterr().err


def test_encoder_backends_stay_close_to_fp32():
    """The faster backends the bench compares must embed like the fp32 model they replace."""
    import numpy as np

    from index.embedding import BUNDLED_MINILM, Embedder

    texts = ["Le président russe a appelé les soldats ukrainiens à déposer les armes.",
             "La cheffe de la diplomatie européenne propose une aide militaire de 40 milliards d'euros.",
             "Vingt-huit jours plus tard, Jim se réveille à l'hôpital."]
    # MiniLM: the model these backends serve (`auto` keeps e5 in fp32, its weights being 4-bit already).
    reference = Embedder(BUNDLED_MINILM, "torch", 32, 0).embed(texts)
    for backend, floor in (("int8-all", 0.95), ("int8", 0.95), ("onnx", 0.999)):
        vectors = Embedder(BUNDLED_MINILM, backend, 32, 0).embed(texts)
        assert vectors.shape == reference.shape
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        cosines = np.sum(vectors * reference, axis=1)
        assert cosines.min() > floor, (backend, cosines)
