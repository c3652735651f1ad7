"""The CLI contract: JSON output, exit codes 0/1/3, status/list/show/remove, locking, model mismatch.

Most checks call assistant.cli.main in-process (same model, no 8 s start-up); the console script
runs in a subprocess only where the process boundary is the point (exit codes, locks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    SEED_DATED,
    SEED_UNDATED,
    SEEDS,
    assert_consistent,
    cli_command,
    copy_seeds,
    make_settings,
    read_state,
    run_cli,
    subprocess_env,
)

from assistant.settings import Settings
from index.embedding import Embedder

pytestmark = pytest.mark.slow  # the real model and Chroma

ANSWER_KEYS = ["schema_version", "question", "answer", "abstained", "citations", "related", "timings_ms", "mode",
               "fallback", "fallback_reason", "sentences", "language", "retrieved_doc_ids", "follow_up_of",
               "disagreement"]
DEFAULT_IDENTITY = Embedder(Settings().embedding_model, Settings().embedding_backend,
                            Settings().embedding_batch_size, Settings().embedding_threads).identity
DEFAULT_BACKEND = DEFAULT_IDENTITY.rsplit("|", 1)[1]  # `auto` resolved for the default model
OTHER_BACKEND = "torch" if DEFAULT_BACKEND != "torch" else "int8"
CITATION_KEYS = {"marker", "doc_id", "source_path", "title", "date", "source", "quote", "start", "end", "score",
                 "highlight", "speaker", "versions", "dates"}


def check_answer_contract(answer: dict, texts: dict[str, str]) -> None:
    """The documented JSON contract, checked against the documents' own text."""
    assert list(answer) == ANSWER_KEYS
    assert answer["schema_version"] == 1
    assert set(answer["timings_ms"]) >= {"retrieve", "answer", "total"}
    citations = answer["citations"]
    markers = [c["marker"] for c in citations]
    assert markers == list(range(1, len(citations) + 1))
    for c in citations + answer["related"]:
        assert set(c) == CITATION_KEYS
        assert c["quote"] == texts[c["doc_id"]][c["start"]:c["end"]], "quote must be text[start:end]"
        assert c["quote"].strip()
        if c["highlight"] is not None:
            assert c["start"] <= c["highlight"]["start"] < c["highlight"]["end"] <= c["end"]
        assert c["speaker"] is None or (isinstance(c["speaker"], str) and c["speaker"].strip())
        for d in c["dates"]:
            assert c["start"] <= d["start"] < d["end"] <= c["end"]
            assert texts[c["doc_id"]][d["start"]:d["end"]] == d["text"]
            assert d["value"] is None or re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", d["value"])
    assert all(c["marker"] is None for c in answer["related"])
    if answer["disagreement"] is not None:  # each side: its citation's speaker and its markers
        assert len(answer["disagreement"]) >= 2
        for side in answer["disagreement"]:
            assert set(side) == {"speaker", "markers"} and set(side["markers"]) <= set(markers)
            assert all(citations[m - 1]["speaker"] == side["speaker"] for m in side["markers"])
    referenced = [int(m) for m in re.findall(r"\[(\d+)\]", answer["answer"])]
    assert list(dict.fromkeys(referenced)) == markers, "markers numbered in order of first appearance"
    for sentence in answer["sentences"]:
        assert set(sentence["markers"]) <= set(markers)
    if answer["abstained"]:
        assert citations == [] and referenced == []
    else:
        assert citations, "an answer that does not abstain cites something"
    assert len(answer["retrieved_doc_ids"]) == len(set(answer["retrieved_doc_ids"]))


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    return {name: (SEEDS / name).read_text(encoding="utf-8") for name in (SEED_DATED, SEED_UNDATED)}


@pytest.mark.parametrize("question", [
    "Qui a appelé les soldats ukrainiens à déposer les armes ?",
    "Qui est la secrétaire de presse de la Maison Blanche ?",
    "Quelle aide militaire Kaja Kallas propose-t-elle aux pays de l'UE ?",
    "Quelle est la recette de la tarte Tatin ?",
    "Les soldats ukrainiens sont-ils encerclés ?",  # sources that disagree: `disagreement` set
])
def test_ask_json_contract(question, cli, seeds_settings, seed_texts):
    result = cli("ask", question, "--data-dir", seeds_settings.data_dir, "--json")
    assert result.code == 0, result.err
    answer = result.json  # json.loads fails on anything but exactly one JSON value
    assert isinstance(answer, dict) and answer["question"] == question
    # The quote is checked against what `show --json` says the document is.
    shown = {}
    for doc_id in {c["doc_id"] for c in answer["citations"] + answer["related"]}:
        show = cli("show", doc_id, "--data-dir", seeds_settings.data_dir, "--json")
        assert show.code == 0
        shown[doc_id] = show.json["text"]
        assert shown[doc_id] == seed_texts[doc_id]
    check_answer_contract(answer, shown)


def test_ask_plain_output(cli, seeds_settings):
    result = cli("ask", "Qui a appelé les soldats ukrainiens à déposer les armes ?", "--data-dir", seeds_settings.data_dir)
    assert result.code == 0
    assert "[1]" in result.out and "Sources:" in result.out and SEED_DATED in result.out
    assert "«" in result.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)


def test_status_list_show(cli, seeds_settings, seed_texts):
    data = seeds_settings.data_dir
    status = cli("status", "--data-dir", data, "--json")
    assert status.code == 0
    s = status.json
    assert (s["documents"], s["store_mode"], s["dimension"]) == (2, "embedded", 384)
    assert s["embedding_model"] == DEFAULT_IDENTITY
    assert s["roots"] == [str(SEEDS.resolve())]
    assert s["data_dir"] == str(data.resolve()) and s["last_indexed_at"]

    listed = cli("list", "--data-dir", data, "--json")
    assert listed.code == 0
    docs = listed.json["documents"]
    assert [d["doc_id"] for d in docs] == [SEED_DATED, SEED_UNDATED]
    assert sum(d["chunks"] for d in docs) == s["chunks"]
    assert [d["date"] for d in docs] == ["2025-03", None]

    for doc_id, text in seed_texts.items():
        shown = cli("show", doc_id, "--data-dir", data, "--json").json
        assert shown["text"] == text and shown["doc_id"] == doc_id
        assert shown["source_path"] == str((SEEDS / doc_id).resolve())

    plain = cli("list", "--data-dir", data)
    assert plain.code == 0 and plain.out.splitlines()[0].startswith(SEED_DATED + "\t2025-03")
    assert "2 documents" in plain.err
    plain = cli("show", SEED_UNDATED, "--data-dir", data)
    assert plain.out.startswith(f"doc_id: {SEED_UNDATED}\n") and "date: -" in plain.out
    assert plain.out.rstrip().endswith(seed_texts[SEED_UNDATED].rstrip())
    plain = cli("status", "--data-dir", data)
    assert plain.code == 0 and "documents: 2" in plain.out


@pytest.mark.parametrize("argv, message", [
    (["show", "nope"], "no document with id 'nope'"),
    (["remove", "nope"], "no document with id 'nope'"),
    (["ask", "   "], "the question is empty"),
    (["ask", "Qui ?", "--date-from", "mars"], "date_from: 'mars' is not a date"),
    (["ask", "Qui ?", "--top-k", "beaucoup"], "top_k expects int"),
    (["ask", "Qui ?", "--answer-max-sentences", "7"], "answer_max_sentences"),
    (["index", "/no/such/folder"], "/no/such/folder: no such file or folder"),
])
def test_errors_exit_1_with_one_line_and_json(argv, message, cli, seeds_settings):
    result = cli(*argv, "--data-dir", seeds_settings.data_dir)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: ") and message in result.err
    result = cli(*argv, "--data-dir", seeds_settings.data_dir, "--json")
    assert result.code == 1
    assert result.json == {"error": result.err.removeprefix("error: ").strip()}
    assert message in result.json["error"]


def test_errors_on_an_empty_index(cli, tmp_path):
    result = cli("ask", "Qui ?", "--data-dir", tmp_path / "empty", "--json")
    assert result.code == 1 and "is empty" in result.json["error"] and "dispatch-qa index" in result.json["error"]
    result = cli("index", "--data-dir", tmp_path / "empty")
    assert result.code == 1 and "nothing to index" in result.err
    status = cli("status", "--data-dir", tmp_path / "empty", "--json")
    assert status.code == 0 and (status.json["documents"], status.json["chunks"]) == (0, 0)


def test_remove_via_cli(cli, tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    data = tmp_path / "data"
    assert cli("index", corpus, "--data-dir", data).code == 0
    question = "Qui est la secrétaire de presse de la Maison Blanche ?"
    assert SEED_UNDATED in {c["doc_id"] for c in cli("ask", question, "--data-dir", data, "--json").json["citations"]}

    result = cli("remove", SEED_UNDATED, "--data-dir", data, "--json")
    assert result.code == 0 and result.json == {"removed": SEED_UNDATED}
    for _ in range(2):
        answer = cli("ask", question, "--data-dir", data, "--json").json
        assert SEED_UNDATED not in answer["retrieved_doc_ids"]
        assert SEED_UNDATED not in {c["doc_id"] for c in answer["citations"] + answer["related"]}
        again = cli("index", "--data-dir", data, "--json")  # re-sync the unchanged root
        assert again.code == 0 and again.json["added"] == [] and again.json["chunks_embedded"] == 0
    listed = cli("list", "--data-dir", data, "--json").json["documents"]
    assert [d["doc_id"] for d in listed] == [SEED_DATED]
    assert cli("remove", SEED_UNDATED, "--data-dir", data).code == 1
    assert_consistent(make_settings(data))


def test_index_json_report_and_rebuild(cli, tmp_path):
    data = tmp_path / "data"
    first = cli("index", SEEDS, "--data-dir", data, "--json")
    assert first.code == 0
    report = first.json
    assert report["summary"] == {"added": 2, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}
    assert report["chunks_embedded"] == report["chunks_total"] == report["chunks_written"] > 0
    second = cli("index", SEEDS, "--data-dir", data)
    assert second.code == 0
    assert second.out.startswith("0 added, 0 updated, 2 unchanged, 0 removed, 0 failed documents; 0 chunks written (0 embedded)")
    rebuilt = cli("index", "--rebuild", "--data-dir", data)
    assert rebuilt.code == 0 and "repaired: rebuilt the vector store" in rebuilt.err and "(0 embedded)" in rebuilt.out
    assert_consistent(make_settings(data))


def test_model_mismatch_is_refused_until_reset(cli, tmp_path):
    data = tmp_path / "data"
    other = f"{DEFAULT_IDENTITY.rsplit('|', 1)[0]}|{OTHER_BACKEND}"
    assert cli("index", SEEDS, "--data-dir", data).code == 0
    ids = set(read_state(make_settings(data)).record_chunk_ids)
    for argv in (["ask", "Qui a appelé les soldats ukrainiens à déposer les armes ?"], ["index"], ["index", SEEDS]):
        result = cli(*argv, "--data-dir", data, "--embedding-backend", OTHER_BACKEND, "--json")
        assert result.code == 1, argv
        message = result.json["error"]
        assert DEFAULT_IDENTITY in message and other in message
        assert "re-index" in message and "--reset" in message
    assert set(read_state(make_settings(data)).record_chunk_ids) == ids  # nothing was mixed in

    reset = cli("index", "--reset", "--data-dir", data, "--embedding-backend", OTHER_BACKEND, "--json")
    assert reset.code == 0, reset.err
    assert reset.json["chunks_embedded"] == reset.json["chunks_total"] > 0 and len(reset.json["added"]) == 2
    answer = cli("ask", "Qui est le porte-parole du Kremlin ?", "--data-dir", data,
                 "--embedding-backend", OTHER_BACKEND, "--json")
    assert answer.code == 0 and any("Peskov" in c["quote"] for c in answer.json["citations"])
    back = cli("ask", "Qui ?", "--data-dir", data, "--json")  # the default backend is now the odd one out
    assert back.code == 1 and "--reset" in back.json["error"]
    assert cli("status", "--data-dir", data, "--json").json["embedding_model"] == other
    assert_consistent(make_settings(data))


# -- one writer at a time -------------------------------------------------------------------------

def test_second_writer_in_process_gives_up_after_lock_timeout(tmp_path, pipelines):
    from index.locking import IndexLockedError, writer_lock

    settings = make_settings(tmp_path / "data", lock_timeout=0)
    pipeline = pipelines(settings)
    with writer_lock(settings.data_dir / "index.lock", 0):
        with pytest.raises(IndexLockedError, match=f"another indexing run \\(pid {os.getpid()}\\)"):
            pipeline.index([SEEDS])
        with pytest.raises(IndexLockedError):
            pipeline.remove(SEED_DATED)
    assert pipeline.records.counts() == (0, 0)


def test_concurrent_writer_exits_1_with_a_clear_message(tmp_path):
    """A real second process: the lock is held here, the console script must give up and say why."""
    from index.locking import writer_lock

    data = tmp_path / "data"
    with writer_lock(data / "index.lock", 0):
        result = run_cli("index", SEEDS, "--data-dir", data, "--lock-timeout", "0", "--json")
    assert result.code == 1
    message = result.json["error"]
    assert f"another indexing run (pid {os.getpid()})" in message and "lock_timeout" in message
    assert result.err.startswith("error: another indexing run")
    import sqlite3

    db = sqlite3.connect(data / "records.sqlite")
    assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 0
    db.close()


def test_waiting_writer_proceeds_when_the_lock_is_released(tmp_path):
    from index.locking import writer_lock

    data = tmp_path / "data"
    lock = data / "index.lock"
    with writer_lock(lock, 0):
        proc = subprocess.Popen(cli_command() + ["index", str(SEEDS), "--data-dir", str(data), "--lock-timeout", "600",
                                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=subprocess_env())
        try:
            # The writer opens the lock file right before it starts waiting on it.
            while proc.poll() is None and not _has_open(proc.pid, lock):
                time.sleep(0.2)
            assert proc.poll() is None, proc.communicate()
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    assert json.loads(out)["summary"]["added"] == 2


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


# -- the real console script ------------------------------------------------------------------------

def test_console_script_exit_codes(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    (corpus / "broken.json").write_text("{", encoding="utf-8")
    data = tmp_path / "data"

    result = run_cli("index", corpus, "--data-dir", data)
    assert result.code == 3
    assert f"failed: {(corpus / 'broken.json').resolve()}: malformed JSON" in result.err
    assert result.out.startswith("2 added,")

    result = run_cli("ask", "Qui a appelé les soldats ukrainiens à déposer les armes ?", "--data-dir", data, "--json")
    assert result.code == 0, result.err
    answer = json.loads(result.out)  # exactly one JSON object: no progress bar or log line on stdout
    assert any("Poutine" in c["quote"] for c in answer["citations"])

    result = run_cli("show", "nope", "--data-dir", data, "--json")
    assert result.code == 1 and json.loads(result.out) == {"error": "no document with id 'nope' (see `dispatch-qa list`)"}


def test_unreadable_records_are_a_clear_error(cli, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "records.sqlite").write_bytes(b"this is not an index" * 100)
    for argv in (["status"], ["ask", "Qui ?"], ["index", SEEDS]):
        result = cli(*argv, "--data-dir", data, "--json")
        assert result.code == 1, argv
        assert str(data / "records.sqlite") in result.json["error"] and "index the folders again" in result.json["error"]


def test_analyzer_release_is_recorded_adopted_by_older_indexes_and_refused_when_it_differs(cli, tmp_path):
    import sqlite3

    from index.french import analyzer_identity
    from index.records import Records

    data = tmp_path / "data"
    assert cli("index", SEEDS, "--data-dir", data).code == 0
    records_path = make_settings(data).records_path
    assert Records(records_path).manifest()["analyzer"] == analyzer_identity()
    with sqlite3.connect(records_path) as db:  # an index from before the entry existed
        db.execute("DELETE FROM meta WHERE key = 'analyzer'")
    assert cli("ask", "Qui a appelé les soldats ukrainiens à déposer les armes ?", "--data-dir", data).code == 0
    assert cli("index", "--data-dir", data).code == 0
    assert Records(records_path).manifest()["analyzer"] == analyzer_identity()
    with sqlite3.connect(records_path) as db:
        db.execute("UPDATE meta SET value = 'fr-1+pystemmer-9.0.0' WHERE key = 'analyzer'")
    result = cli("ask", "Qui ?", "--data-dir", data, "--json")
    assert result.code == 1 and "analyzer 'fr-1+pystemmer-9.0.0'" in result.json["error"]
    assert "stemmer" in result.json["error"] and "--reset" in result.json["error"]
