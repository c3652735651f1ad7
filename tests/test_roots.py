"""Roots and files the indexer must refuse or bound: devices and FIFOs as roots, a recorded root gone
bad, `roots` / `roots --forget`, symbolic links out of a folder, a file slower than loader_timeout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import SEED_DATED, SEED_UNDATED, assert_consistent, copy_seeds, make_settings

from index.records import Records

pytestmark = pytest.mark.slow  # the real model and Chroma


def recorded_roots(data: Path) -> list[str]:
    if not (data / "records.sqlite").exists():
        return []
    records = Records(data / "records.sqlite")
    try:
        return records.roots()
    finally:
        records.close()


@pytest.mark.parametrize("special", ["/dev/null", "fifo", "/proc/self/status"])
def test_special_roots_are_refused_before_anything_is_recorded(special, cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    if special == "fifo":
        special = tmp_path / "pipe.txt"
        os.mkfifo(special)
    result = cli("index", special, "--data-dir", data, "--json")
    assert result.code == 1 and result.err.startswith("error: ")
    assert str(special) in result.json["error"] and "refused" in result.json["error"]
    assert recorded_roots(data) == [str(corpus.resolve())]
    again = cli("index", "--data-dir", data, "--json")  # later runs without paths still work
    assert again.code == 0 and again.json["unchanged"] == 2


def test_a_bad_recorded_root_is_reported_and_can_be_forgotten(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    records = Records(data / "records.sqlite")
    records.add_root("/dev/null")  # what the old code recorded for `index /dev/null`
    records.close()

    result = cli("index", "--data-dir", data, "--json")
    assert result.code == 3
    assert result.json["unchanged"] == 2
    [failure] = result.json["failed"]
    assert failure["file"] == "/dev/null" and "a device" in failure["reason"] and "roots --forget" in failure["reason"]

    listed = cli("roots", "--data-dir", data, "--json")
    assert listed.code == 0
    assert listed.json == {"roots": [
        {"path": str(corpus.resolve()), "documents": 2, "problem": None},
        {"path": "/dev/null", "documents": 0, "problem": "a device, not a folder or a regular file; refused"}]}
    plain = cli("roots", "--data-dir", data)
    assert plain.out.splitlines()[0] == f"{corpus.resolve()}\t2 documents"

    forgot = cli("roots", "--forget", "/dev/null", "--data-dir", data, "--json")
    assert forgot.code == 0 and forgot.json == {"forgotten": "/dev/null", "removed": []}
    assert cli("index", "--data-dir", data, "--json").code == 0

    # Forgetting a folder takes its documents out of the index (the files stay).
    forgot = cli("roots", "--forget", corpus, "--data-dir", data, "--json")
    assert forgot.code == 0 and forgot.json["removed"] == [SEED_DATED, SEED_UNDATED]
    assert cli("roots", "--data-dir", data, "--json").json == {"roots": []}
    assert cli("list", "--data-dir", data, "--json").json == {"documents": []}
    assert_consistent(make_settings(data))
    assert (corpus / SEED_DATED).exists()
    missing = cli("roots", "--forget", corpus, "--data-dir", data, "--json")
    assert missing.code == 1 and "is not an indexed root" in missing.json["error"]
    assert cli("index", corpus, "--data-dir", data, "--json").json["added"] == [SEED_DATED, SEED_UNDATED]


def test_links_out_of_the_folder_are_reported_not_followed(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_text("Le mot de passe du serveur central est hippopotame42.\n", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "dangling.txt").symlink_to(corpus / "nowhere.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    data = tmp_path / "data"

    result = cli("index", corpus, "--data-dir", data, "--json")
    assert result.code == 3
    failed = {Path(f["file"]).name: f["reason"] for f in result.json["failed"]}
    assert set(failed) == {"passwd.txt", "dangling.txt", "loop.txt"}
    assert "outside the indexed folder" in failed["passwd.txt"] and "follow_symlinks" in failed["passwd.txt"]
    assert "broken symbolic link" in failed["dangling.txt"] and "loop" in failed["loop.txt"]
    assert sorted(result.json["added"]) == [SEED_DATED, SEED_UNDATED]
    plain = cli("index", corpus, "--data-dir", data)
    assert any(line.startswith("failed: ") and "passwd.txt" in line for line in plain.err.splitlines())

    followed = cli("index", corpus, "--data-dir", data, "--follow-symlinks", "--json")
    assert followed.json["added"] == ["passwd.txt"] and len(followed.json["failed"]) == 2
    # Back to the default: the link is refused again and its document leaves the index.
    again = cli("index", corpus, "--data-dir", data, "--json")
    assert again.json["removed"] == ["passwd.txt"]
    assert_consistent(make_settings(data))


def test_a_file_over_loader_timeout_is_skipped_and_the_rest_indexed(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    depth = 100_000  # the 1 MB file of the bug report
    (corpus / "deep.html").write_text("<html><body>" + "<div>" * depth + "<p>Texte.</p>" + "</div>" * depth
                                      + "</body></html>")
    data = tmp_path / "data"
    started = time.perf_counter()
    result = cli("index", corpus, "--data-dir", data, "--loader-timeout", "0.3", "--json")
    assert time.perf_counter() - started < 120
    assert result.code == 3
    [failure] = result.json["failed"]
    assert failure["file"] == str(corpus / "deep.html")
    assert "took longer than 0.3 s to load (loader_timeout); skipped" in failure["reason"]
    assert sorted(result.json["added"]) == [SEED_DATED, SEED_UNDATED]
    # With the default budget the same file loads (the parser is linear now).
    result = cli("index", corpus, "--data-dir", data, "--json")
    assert result.code == 0 and result.json["added"] == ["deep.html"]
    assert_consistent(make_settings(data))


def test_a_folder_that_cannot_be_listed_keeps_its_documents(cli, tmp_path, monkeypatch):
    import index.walk

    corpus = copy_seeds(tmp_path / "corpus")
    (corpus / "sub").mkdir()
    (corpus / SEED_UNDATED).rename(corpus / "sub" / SEED_UNDATED)
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    real_scandir = index.walk.os.scandir

    def scandir(path):
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(index.walk.os, "scandir", scandir)
    result = cli("index", corpus, "--data-dir", data, "--json")
    assert result.code == 3 and result.json["removed"] == []
    [failure] = result.json["failed"]
    assert failure["file"] == str(corpus / "sub") and "cannot list this folder (Permission denied)" in failure["reason"]
    assert {d["doc_id"] for d in cli("list", "--data-dir", data, "--json").json["documents"]} == {
        SEED_DATED, f"sub/{SEED_UNDATED}"}
