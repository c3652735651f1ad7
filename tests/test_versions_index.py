"""Version clusters through the real indexer, records, retrieval and CLI: a re-issued seed joins the
original's cluster, answers show only the newest version with the other in `versions`, and the
cluster follows every change (update, removal, --rebuild, an index from before signatures)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import SEED_UNDATED, copy_seeds

pytestmark = pytest.mark.slow  # the real model and Chroma

REISSUE = "004_reissue.txt"
QUESTION = "Qui est la secrétaire de presse de la Maison Blanche ?"


def write_reissue(corpus: Path, extra: str = "Un nouveau bilan a été publié samedi soir par les autorités.") -> None:
    """Seed 004 re-issued the next day: dated, its last paragraph replaced by a new one."""
    text = (corpus / SEED_UNDATED).read_text(encoding="utf-8").rstrip()
    body = text[:text.rfind("\n\n")]
    (corpus / REISSUE).write_text(f"date 2025-03-15 {body}\n\n{extra}\n", encoding="utf-8")


def links(data: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(data / "records.sqlite")
    try:
        return db.execute("SELECT doc_a, doc_b FROM version_links ORDER BY 1, 2").fetchall()
    finally:
        db.close()


def test_reissue_joins_answer_shows_newest_and_cluster_follows_changes(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    write_reissue(corpus)
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    assert links(data) == [(SEED_UNDATED, REISSUE)]

    listed = {d["doc_id"]: d["cluster_id"] for d in cli("list", "--data-dir", data, "--json").json["documents"]}
    assert listed[REISSUE] == listed[SEED_UNDATED] == SEED_UNDATED  # the smallest id names the cluster
    assert [v for d, v in listed.items() if d not in (REISSUE, SEED_UNDATED)] == ["000_fb850ab909d3a4ae.txt"]

    cluster = cli("versions", SEED_UNDATED, "--data-dir", data, "--json").json
    assert cluster["cluster_id"] == SEED_UNDATED
    assert [v["doc_id"] for v in cluster["versions"]] == [REISSUE, SEED_UNDATED]  # newest (dated) first
    assert cluster["versions"][0]["date"] == "2025-03-15"
    plain = cli("versions", REISSUE, "--data-dir", data)
    assert plain.code == 0 and f"* {REISSUE}" in plain.out and "2 versions" in plain.err

    answer = cli("ask", QUESTION, "--data-dir", data, "--json").json
    shown = [c["doc_id"] for c in answer["citations"] + answer["related"]]
    assert REISSUE in shown and SEED_UNDATED not in shown
    assert SEED_UNDATED not in answer["retrieved_doc_ids"]
    for c in answer["citations"]:
        expected = [{"doc_id": SEED_UNDATED, "title": c["versions"][0]["title"], "date": None,
                     "source": c["versions"][0]["source"]}] if c["doc_id"] == REISSUE else []
        assert c["versions"] == expected

    assert cli("index", "--rebuild", "--data-dir", data).code == 0  # the records keep the links
    assert links(data) == [(SEED_UNDATED, REISSUE)]

    # The re-issue rewritten into another story leaves the cluster; the original comes back in answers.
    (corpus / REISSUE).write_text("date 2025-03-15 Un tout autre sujet : la banque centrale européenne a "
                                  "relevé ses taux directeurs pour lutter contre l'inflation.\n", encoding="utf-8")
    assert cli("index", "--data-dir", data).code == 0 and links(data) == []
    answer = cli("ask", QUESTION, "--data-dir", data, "--json").json
    assert SEED_UNDATED in {c["doc_id"] for c in answer["citations"]}
    assert all(c["versions"] == [] for c in answer["citations"])

    # Back as a version, then removed: the cluster dissolves.
    write_reissue(corpus, "Une autre fin encore, publiée plus tard dans la journée de samedi.")
    assert cli("index", "--data-dir", data).code == 0 and links(data) == [(SEED_UNDATED, REISSUE)]
    assert cli("remove", REISSUE, "--data-dir", data).code == 0
    assert links(data) == []
    assert cli("versions", SEED_UNDATED, "--data-dir", data, "--json").json["versions"][0]["doc_id"] == SEED_UNDATED


def test_index_without_signatures_adopts_them_on_open(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    write_reissue(corpus)
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    db = sqlite3.connect(data / "records.sqlite")
    with db:  # as an index written before signatures were kept
        db.execute("DELETE FROM signatures")
        db.execute("DELETE FROM version_links")
        db.execute("DELETE FROM meta WHERE key = 'versions'")
    db.close()
    answer = cli("ask", QUESTION, "--data-dir", data, "--json").json
    assert links(data) == [(SEED_UNDATED, REISSUE)]
    assert SEED_UNDATED not in [c["doc_id"] for c in answer["citations"]]


def test_versions_of_an_unknown_document_is_a_clear_error(cli, tmp_path):
    data = tmp_path / "data"
    assert cli("index", copy_seeds(tmp_path / "corpus"), "--data-dir", data).code == 0
    result = cli("versions", "nope.txt", "--data-dir", data, "--json")
    assert result.code == 1 and "no document with id 'nope.txt'" in result.json["error"]


def test_kill_9_mid_index_keeps_versions_with_their_documents(tmp_path, pipelines):
    """Killed half way through a corpus of re-issues, then run again: the same links as one clean run,
    and at the kill no document without its signature, no link to a document not recorded."""
    from conftest import make_settings, orangesum_articles, write_jsonl
    from test_crash import chunks_at_least, kill_when, records_counts, records_self_consistent

    articles = orangesum_articles(6)
    reissues = [{**a, "id": f"{a['id']}-v2", "date": "2020-12-31",
                 "text": a["text"] + "\n\nCe paragraphe a été ajouté dans une nouvelle version de la dépêche."}
                for a in articles]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_jsonl(corpus / "feed.jsonl", [x for pair in zip(articles, reissues) for x in pair])
    clean = tmp_path / "clean"
    assert pipelines(make_settings(clean)).index([corpus]).failed == []
    expected = links(clean)
    assert expected == sorted((a["id"], f"{a['id']}-v2") for a in articles)

    data = tmp_path / "data"
    total = records_counts(clean)[1]
    assert kill_when(corpus, data, chunks_at_least(data, total // 2)), "killed half way"
    records_self_consistent(data)
    assert 0 < records_counts(data)[0] < 12
    assert pipelines(make_settings(data)).index([corpus]).failed == []
    records_self_consistent(data)
    assert links(data) == expected
