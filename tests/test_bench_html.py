"""`bench html` scoring: the article-extraction benchmark's own arithmetic, on tiny inline texts."""

import gzip
import importlib.util
import json

import pytest
from conftest import SHARED_DATA

from assistant.bench_html import page_counts, run, scores

BENCHMARK = SHARED_DATA / "article_extraction_benchmark"


def test_page_counts_compare_bags_of_four_word_shingles():
    assert page_counts("un deux trois quatre", "un deux trois quatre") == (1.0, 0.0, 0.0)
    # 5 words = 2 shingles; the extraction finds one of them and adds one of its own
    tp, fp, fn = page_counts("a b c d e", "a b c d x")
    assert (tp, fp, fn) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert page_counts("", "") == (0.0, 0.0, 0.0)
    assert page_counts("un, deux! trois quatre", "un deux trois quatre")[0] == 1.0  # punctuation is no word


def test_scores_are_macro_averages_with_f1_of_the_averages():
    pages = [page_counts("a b c d", "a b c d"), page_counts("a b c d e", "a b c d x"), page_counts("a b c d", "")]
    s = scores(pages)
    assert s["precision"] == pytest.approx((1 + 0.5) / 2)  # the empty extraction has no precision
    assert s["recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["f1"] == pytest.approx(2 * s["precision"] * s["recall"] / (s["precision"] + s["recall"]))


def test_run_loads_each_page_with_the_html_loader(tmp_path):
    body = "Le conseil municipal a voté le budget de la ville jeudi soir après un long débat."
    (tmp_path / "html").mkdir()
    page = f"<html><body><nav><p>Accueil Politique Sport</p></nav><article><p>{body}</p></article></body></html>"
    (tmp_path / "html" / "p1.html.gz").write_bytes(gzip.compress(page.encode()))
    (tmp_path / "ground-truth.json").write_text(json.dumps({"p1": {"articleBody": body, "url": "x"}}))
    report = run(tmp_path, 1_000_000)
    assert report["pages"] == 1
    assert (report["precision"], report["recall"], report["f1"]) == (1.0, 1.0, 1.0)
    assert report["ms_per_page"] > 0


@pytest.mark.skipif(not (BENCHMARK / "evaluate.py").is_file(), reason="../shared benchmark data absent")
def test_same_figures_as_the_benchmarks_own_evaluate_py():
    spec = importlib.util.spec_from_file_location("benchmark_evaluate", BENCHMARK / "evaluate.py")
    theirs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(theirs)
    pairs = [("Le maire a parlé hier soir à Lyon.", "Le maire a parlé hier soir. Menu Accueil"),
             ("a b", "a b c"), ("un deux trois quatre cinq", ""), ("", "du texte en trop ici là")]
    mine = [page_counts(t, p) for t, p in pairs]
    assert mine == [theirs.string_shingle_matching(true=t, pred=p) for t, p in pairs]
    assert scores(mine) == pytest.approx(theirs.metrics_from_tp_fp_fns(mine))
