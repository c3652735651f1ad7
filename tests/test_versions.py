"""Version clusters on tiny strings: shingles, exact Jaccard, union-find, the incremental linker, the
exact-pair search of the bench, the collapse to one version per cluster."""

from __future__ import annotations

from itertools import combinations

import pytest

from assistant.bench_versions import exact_pairs
from index.minhash import LshIndex, band_rows, from_bytes, signature, to_bytes
from index.version_links import VersionLinker
from index.versions import clusters, jaccard, members_by_cluster, newest_key, shingles, words

BASE = ("le président ukrainien a déclaré vendredi que la situation dans la région de Koursk était "
        "très difficile mais que les soldats se battaient de manière héroïque face aux troupes russes")
UPDATE = BASE + " selon un nouveau bilan publié samedi par les autorités"
OTHER = ("la banque centrale européenne a relevé ses taux directeurs pour la troisième fois cette année "
         "afin de lutter contre une inflation qui reste élevée dans la zone euro")


def test_words_are_lower_cased_with_accents_kept():
    assert words("L'Été à Kyiv, déjà!") == ["l", "été", "à", "kyiv", "déjà"]
    assert words("ETE") != words("Été")


def test_shingles_are_word_5_grams():
    assert shingles("a b c d e f") == {"a b c d e", "b c d e f"}
    assert shingles("A b C d E") == {"a b c d e"}
    assert shingles("trop court") == {"trop court"}  # fewer than 5 words: one shingle
    assert shingles("  ,;  ") == set()


def test_jaccard():
    assert jaccard({"x", "y"}, {"y", "z"}) == pytest.approx(1 / 3)
    assert jaccard({"x"}, {"x"}) == 1.0
    assert jaccard(set(), set()) == 0.0
    assert jaccard(shingles(BASE), shingles(UPDATE)) >= 0.5
    assert jaccard(shingles(BASE), shingles(OTHER)) == 0.0


def test_clusters_are_connected_components_named_by_their_smallest_id():
    cluster_of = clusters([("c", "b"), ("b", "a"), ("x", "y")])
    assert cluster_of == {"a": "a", "b": "a", "c": "a", "x": "x", "y": "x"}
    assert members_by_cluster(cluster_of) == {"a": ["a", "b", "c"], "x": ["x", "y"]}
    assert clusters([]) == {}


def test_newest_key_prefers_the_later_date_then_the_larger_id():
    ranked = sorted([("b", "2025-03-14"), ("a", "2025-03-15"), ("c", None), ("d", "2025-03")],
                    key=lambda x: newest_key(*x), reverse=True)
    assert [d for d, _ in ranked] == ["a", "b", "d", "c"]
    assert newest_key("z", "2025-03-14") > newest_key("y", "2025-03-14")


def test_signature_round_trip_and_agreement_tracks_jaccard():
    a, b, c = (signature(shingles(t)) for t in (BASE, UPDATE, OTHER))
    assert a.dtype.name == "uint32" and len(a) == 128
    assert (from_bytes(to_bytes(a)) == a).all()
    assert (signature(shingles(BASE)) == a).all()  # stable: no per-process hash seed
    assert (a == b).mean() > 0.4 and (a == c).mean() < 0.1
    lsh = LshIndex()
    lsh.insert("base", a)
    assert lsh.candidates(b) == {"base"} and lsh.candidates(c) == set()


def test_linker_joins_and_leaves():
    texts = {"base": BASE, "other": OTHER}
    linker = VersionLinker([], lambda ids: {i: texts[i] for i in ids if i in texts})
    assert linker.link("base", BASE)[1] == []
    assert linker.link("other", OTHER)[1] == []
    sig, links = linker.link("update", UPDATE)  # a re-issue with a sentence added joins
    assert [o for o, _ in links] == ["base"] and links[0][1] >= 0.5
    # The same id changed into another story: it no longer links to "base", and never to itself.
    _, links = linker.link("update", OTHER + " et encore")
    assert [o for o, _ in links] == ["other"]
    # Stored signatures (a new process): same links, candidates whose text is gone are skipped.
    stored = [("base", to_bytes(signature(shingles(BASE)))), ("gone", to_bytes(sig))]
    again = VersionLinker(stored, lambda ids: {i: texts[i] for i in ids if i in texts})
    assert [o for o, _ in again.link("update", UPDATE)[1]] == ["base"]


def test_exact_pairs_match_all_pairs():
    texts = {"base": BASE, "update": UPDATE, "other": OTHER, "mix": BASE[:60] + " " + OTHER,
             "tiny": "trop court", "tiny2": "trop court"}
    brute = {tuple(sorted(p)) for p in combinations(texts, 2)
             if jaccard(shingles(texts[p[0]]), shingles(texts[p[1]])) >= 0.5}
    found = exact_pairs(texts, 0.5)
    assert set(found) == brute == {("base", "update"), ("mix", "other"), ("tiny", "tiny2")}
    assert found[("tiny", "tiny2")] == 1.0


def test_lsh_from_stored_signatures_removes_and_reinserts():
    import numpy as np

    a, b, c = (signature(shingles(t)) for t in (BASE, UPDATE, OTHER))
    lsh = LshIndex(["base", "other"], np.stack([a, c]))
    assert lsh.candidates(b) == {"base"} and "base" in lsh
    lsh.remove("base")  # a changed or removed dispatch no longer answers
    assert lsh.candidates(b) == set() and "base" not in lsh
    lsh.insert("base", a)  # back, now among the run's additions
    lsh.insert("update", b)
    assert lsh.candidates(b) == {"base", "update"}
    lsh.remove("update")
    assert lsh.candidates(b) == {"base"}


def test_newest_version_is_the_latest_the_filters_let_through(tmp_path):
    from assistant.versions import VersionClusters, one_version_each
    from index.dates import date_range
    from index.keyword import Filters
    from index.records import ChunkRecord, DocumentRecord, Records

    records = Records(tmp_path / "records.sqlite")

    def doc(doc_id: str, date: str | None, source: str) -> DocumentRecord:
        span = date_range(date) if date else None
        return DocumentRecord(doc_id, "/r", f"/r/{doc_id}", f"titre {doc_id}", date, span and span[0],
                              span and span[1], source, "fr", BASE, 0, doc_id, 1, 0.0)

    with records.transaction() as tx:
        for d in (doc("a", "2025-03-14", "AFP"), doc("b", "2025-03-15", "Reuters"), doc("c", None, "AFP"),
                  doc("alone", "2025-03-20", "AFP")):
            tx.put_document(d)
            tx.put_chunks([ChunkRecord(f"{d.doc_id}-0", d.doc_id, 0, 0, 10, "h", "")])
            tx.put_versions(d.doc_id, b"", [("a", 0.9)] if d.doc_id in ("b", "c") else [])
    versions = VersionClusters(records)
    assert versions.cluster_id("c") == "a" and versions.cluster_id("alone") == "alone"
    assert versions.newest_versions(["a", "c", "alone"], None) == {"a": "b", "c": "b"}
    afp = Filters(sources=("afp",))
    assert versions.newest_versions(["c"], afp) == {"c": "a"}
    assert versions.newest_versions(["a"], Filters(date_to=date_range("2025-03-14")[1])) == {"a": "a"}
    assert [v["doc_id"] for v in versions.others("a")] == ["b", "c"]  # newest first, undated last
    # An older version's chunk gives way to the newest version's, fetched though retrieval missed it.
    chunks = {c.chunk_id: c for c in records.chunks(["c-0", "alone-0"]).values()}
    assert one_version_each(["c-0", "alone-0"], chunks, versions, None) == ["alone-0", "b-0"]
    assert one_version_each(["c-0"], dict(records.chunks(["c-0"])), versions, afp) == ["a-0"]
    records.close()


def test_recorded_band_keys_find_the_same_candidates_and_follow_deletes(tmp_path):
    from index.records import Records
    from index.version_links import adopt_versions, open_linker

    records = Records(tmp_path / "records.sqlite")
    sigs = {d: signature(shingles(t)) for d, t in (("base", BASE), ("other", OTHER))}
    with records.transaction() as tx:
        for doc_id, sig in sigs.items():
            tx.put_versions(doc_id, to_bytes(sig), [])
    update = signature(shingles(UPDATE))
    assert records.version_candidates(band_rows(update)) == {"base"}
    assert records.version_candidates(band_rows(signature(shingles("rien à voir " * 20)))) == set()
    # Signed again (a changed dispatch): its old bands go with its old signature.
    with records.transaction() as tx:
        tx.put_versions("base", to_bytes(sigs["other"]), [])
    assert records.version_candidates(band_rows(update)) == set()
    assert records.version_candidates(band_rows(sigs["other"])) == {"base", "other"}
    with records.transaction() as tx:
        tx.delete_document("other")
    assert records.version_candidates(band_rows(sigs["other"])) == {"base"}
    # An index from before the band table: filled once from its signatures by the next writer.
    records._db.execute("DELETE FROM version_bands")
    records._db.execute("DELETE FROM meta WHERE key = 'version_bands'")
    assert records.version_candidates(band_rows(sigs["other"])) == set()
    adopt_versions(records)
    assert records.version_candidates(band_rows(sigs["other"])) == {"base"}
    assert open_linker(records).link("new", OTHER)[1] == []  # "base" holds OTHER's signature, not its text


def test_band_rows_of_a_foreign_blob_are_empty():
    assert band_rows(from_bytes(b"")) == [] and len(band_rows(signature(shingles(BASE)))) == 42
