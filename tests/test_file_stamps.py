"""A sync does not load again a file unchanged since its dispatches were committed (index/file_stamps.py)."""

from __future__ import annotations

import os
import time

from conftest import SEED_DATED, SEED_UNDATED, assert_consistent, copy_seeds, make_settings

from index.file_stamps import SETTLE_NS, FileStamp, stamp_of, unchanged


def test_a_stamp_is_trusted_only_when_equal_and_settled(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("un", encoding="utf-8")
    now = stamp_of(path)
    assert unchanged(now, stamp_of(path)) and not unchanged(None, now) and not unchanged(now, None)
    assert not now.settled(time.time_ns()) and now.settled(max(now.mtime_ns, now.ctime_ns) + SETTLE_NS)
    path.write_text("deux", encoding="utf-8")
    assert not unchanged(now, stamp_of(path))
    assert stamp_of(tmp_path / "missing.txt") is None
    assert FileStamp(1, 2, 3, 4) != FileStamp(1, 2, 3, 5)  # another inode: a file replaced by a copy


def _loads(pipeline, monkeypatch):
    loaded = []
    real = pipeline.indexer.loader.load

    def counting(path, root):
        loaded.append(path.name)
        return real(path, root)

    monkeypatch.setattr(pipeline.indexer.loader, "load", counting)
    return loaded


def test_unchanged_files_are_not_loaded_again_and_changes_are_still_seen(tmp_path, pipelines, monkeypatch):
    corpus = copy_seeds(tmp_path / "corpus")
    (corpus / "extra.txt").write_text("Titre\n\nLe port de Brest a rouvert lundi après la tempête.\n",
                                      encoding="utf-8")
    time.sleep(SETTLE_NS / 1e9 + 0.2)  # settled: a file written just before a sync is never stamped
    settings = make_settings(tmp_path / "data")
    pipeline = pipelines(settings)
    loaded = _loads(pipeline, monkeypatch)
    first = pipeline.index([corpus])
    assert len(first.added) == 3 and sorted(loaded) == sorted([SEED_DATED, SEED_UNDATED, "extra.txt"])

    loaded.clear()
    again = pipeline.index([corpus])
    assert loaded == [] and again.unchanged == 3 and again.added == again.updated == again.removed == []

    # An edit that keeps the size and puts the modification time back is still seen (change time).
    extra = corpus / "extra.txt"
    before = extra.stat()
    extra.write_text(extra.read_text(encoding="utf-8").replace("lundi", "mardi"), encoding="utf-8")
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert extra.stat().st_size == before.st_size
    loaded.clear()
    edited = pipeline.index([corpus])
    assert loaded == ["extra.txt"] and edited.updated == ["extra.txt"] and edited.unchanged == 2

    # A deleted file's documents go although the other files are skipped.
    (corpus / SEED_UNDATED).unlink()
    loaded.clear()
    gone = pipeline.index([corpus])
    assert gone.removed == [SEED_UNDATED] and SEED_UNDATED not in loaded
    assert_consistent(settings)

    # A reset forgets the stamps with the documents: everything is loaded and indexed again.
    time.sleep(SETTLE_NS / 1e9 + 0.2)
    pipeline.index([corpus])
    loaded.clear()
    reset = pipeline.index(reset=True)
    assert sorted(reset.added) == sorted([SEED_DATED, "extra.txt"]) and sorted(loaded) == sorted(reset.added)
    assert_consistent(settings)


def test_a_file_with_a_refused_dispatch_is_loaded_again(tmp_path, pipelines, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    line = '{"id": "same", "title": "T", "text": "Le port de Brest a rouvert lundi après la tempête."}\n'
    (corpus / "a.jsonl").write_text(line, encoding="utf-8")
    (corpus / "b.jsonl").write_text(line.replace("lundi", "mardi"), encoding="utf-8")
    time.sleep(SETTLE_NS / 1e9 + 0.2)
    pipeline = pipelines(make_settings(tmp_path / "data"))
    loaded = _loads(pipeline, monkeypatch)
    first = pipeline.index([corpus])
    assert [f["file"] for f in first.failed] == [str((corpus / "b.jsonl").resolve())]
    loaded.clear()
    again = pipeline.index([corpus])
    # a.jsonl is skipped, b.jsonl still reports its refused dispatch instead of falling silent
    assert loaded == ["b.jsonl"] and [f["file"] for f in again.failed] == [str((corpus / "b.jsonl").resolve())]
