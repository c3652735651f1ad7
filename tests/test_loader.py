"""Loading under a time budget: a pathological file is cut at loader_timeout, the next file loads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from index.loader import BUDGET_STEP_BYTES, FileLoader, budget

TEXT = "Le préfet a inauguré le pont de Tulle mardi. Il a coûté douze millions d'euros.\n"


def deep_html(path: Path, depth: int = 100_000) -> Path:
    """The 1 MB file of the bug report: 100,000 nested <div> (seconds to parse, even when linear)."""
    path.write_text("<html><body>" + "<div>" * depth + "<p>Texte.</p>" + "</div>" * depth + "</body></html>")
    return path


def test_budget_grows_with_the_size_only_for_big_files():
    assert budget(10, 0) == budget(10, 1000) == budget(10, BUDGET_STEP_BYTES) == 10
    assert budget(10, BUDGET_STEP_BYTES + 1) == 20
    assert budget(2.5, 45_000_000) == 15


def test_a_file_over_the_budget_is_skipped_and_the_next_one_loads(tmp_path):
    slow = deep_html(tmp_path / "deep.html")
    good = tmp_path / "a.txt"
    good.write_text(TEXT, encoding="utf-8")
    with FileLoader(timeout=0.3, max_bytes=10_000_000) as loader:
        assert [d.doc_id for d in loader.load(good, tmp_path).dispatches] == ["a.txt"]
        started = time.perf_counter()
        result = loader.load(slow, tmp_path)
        assert time.perf_counter() - started < 5  # cut at the budget, not after the parse
        assert result.dispatches == []
        [error] = result.errors
        assert error.path == str(slow)
        assert "took longer than 0.3 s to load (loader_timeout)" in error.reason
        again = loader.load(good, tmp_path)  # a fresh worker takes over
        assert again.errors == [] and again.dispatches[0].text == TEXT


def test_errors_come_back_from_the_worker_as_from_load_file(tmp_path):
    bad = tmp_path / "a.json"
    bad.write_text('{"text": ', encoding="utf-8")
    with FileLoader(timeout=10, max_bytes=10_000_000) as loader:
        [error] = loader.load(bad, tmp_path).errors
        assert error.path == str(bad) and error.reason.startswith("malformed JSON")
        [error] = loader.load(tmp_path / "gone.txt", tmp_path).errors
        assert error.reason == "file not found"


@pytest.mark.parametrize("timeout", [0, 10])
def test_the_same_dispatches_in_process_and_in_the_worker(tmp_path, timeout):
    f = tmp_path / "a.md"
    f.write_text("date 2025-03\ntitle: Le pont\nsource: AFP\n\n" + TEXT, encoding="utf-8")
    with FileLoader(timeout=timeout, max_bytes=10_000_000) as loader:
        [d] = loader.load(f, tmp_path).dispatches
    assert (d.title, d.date, d.source, d.text) == ("Le pont", "2025-03", "AFP", f.read_text(encoding="utf-8"))
