"""The chat's callbacks called directly, over a real pipeline (real model, real Chroma) on the seeds."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import FOLLOW_UP, OFF_TOPIC_EN, OFF_TOPIC_FR, SEED_QUESTION, article, private_copy

from ui.app import ChatCallbacks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cb(tmp_path_factory, seeds_settings, embedder):
    data = private_copy(seeds_settings, tmp_path_factory, "callbacks")
    settings = make_settings(data, upload_max_bytes=4096, lock_timeout=0.5)
    pipeline = open_pipeline(settings, embedder)
    yield ChatCallbacks(pipeline, settings)
    pipeline.close()


class Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, unit=None):
        self.calls.append((value, desc))


def _streamed_text(transcript: str) -> str:
    last = transcript.rsplit('dq-streaming', 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "", last.split('<span class="dq-caret">')[0]))


def ask(cb, question, turns=None, **filters):
    steps = list(cb.respond(question, turns or [], filters.get("date_from", ""), filters.get("date_to", ""),
                            filters.get("sources")))
    transcript, panel, turns, box, chips = steps[-1]
    return steps, transcript, panel, turns


def test_answer_streams_then_cites(cb):
    steps, transcript, panel, turns = ask(cb, SEED_QUESTION)
    partials = [_streamed_text(s[0]) for s in steps if "dq-caret" in s[0]]
    assert len(partials) >= 3, "the answer should arrive in several pieces"
    assert all(b.startswith(a) and len(b) > len(a) for a, b in zip(partials, partials[1:]))
    assert steps[0][3] == ""  # the question box is cleared at once
    answer = turns[-1]["answer"]
    assert not answer["abstained"] and answer["citations"]
    assert transcript.count('class="dq-cite"') >= len(answer["citations"])
    assert panel.count("dq-card-citation") == len(answer["citations"])
    for c in answer["citations"]:
        doc = cb.pipeline.document(c["doc_id"])
        assert doc["text"][c["start"]:c["end"]] == c["quote"]


def test_clicking_a_citation_shows_the_passage_highlighted(cb):
    _, _, _, turns = ask(cb, SEED_QUESTION)
    c = turns[0]["answer"]["citations"][0]
    panel, view = cb.citation(turns, 0, "citation", c["marker"])
    marked = re.search(r'<mark class="dq-mark">(.*?)</mark>', view, re.S).group(1)
    assert html.unescape(re.sub(r'</?strong[^>]*>', "", marked)) == c["quote"]  # answer words in <strong>
    assert c["source_path"] in view and f'{c["start"]}–{c["end"]}' in view
    assert cb.citation(turns, 7, "citation", 1) is None  # a stale click changes nothing
    assert cb.citation(turns, -1, "citation", c["marker"]) is None
    assert cb.citation(turns, 0, "citation", 99) is None


def test_two_versions_of_a_dispatch_are_diffed_from_the_index(tmp_path, embedder):
    """A card's Compare button (a `cite` event with `other`): both texts read from the real index."""
    lede = ("Moscou (AFP) - Une explosion a frappé jeudi une usine chimique de Dzerjinsk, a annoncé le "
            "ministère russe des Situations d'urgence.")
    old = article(tmp_path / "in" / "usine-v1.txt", "Explosion dans une usine de Dzerjinsk",
                  f"{lede} Le bilan provisoire est de trois blessés. Une enquête a été ouverte.")
    article(tmp_path / "in" / "usine-v2.txt", "Explosion dans une usine de Dzerjinsk",
              f"{lede} Le bilan est désormais de deux morts et onze blessés. Une enquête a été ouverte.")
    settings = make_settings(tmp_path / "data")
    pipeline = open_pipeline(settings, embedder)
    try:
        pipeline.index([old.parent])
        callbacks = ChatCallbacks(pipeline, settings)
        _, _, _, turns = ask(callbacks, "Quel est le bilan de l'explosion de l'usine de Dzerjinsk ?")
        cited = turns[0]["answer"]["citations"][0]
        other = "usine-v1.txt" if cited["doc_id"] == "usine-v2.txt" else "usine-v2.txt"
        cited["versions"] = [{"doc_id": other, "title": "v", "date": None, "source": "AFP"}]  # the versions helper's field
        panel, view = callbacks.citation(turns, 0, "citation", cited["marker"], other=other)
        assert 'data-other="' + other + '"' in panel and "aussi dans 1 dépêche" in panel
        added = re.findall(r'<ins class="dq-diff-added"[^>]*>.*?</span> (.*?)</ins>', view)
        removed = re.findall(r'<del class="dq-diff-removed"[^>]*>.*?</span> (.*?)</del>', view)
        bilans = {"usine-v1.txt": "Le bilan provisoire est de trois blessés.",
                  "usine-v2.txt": "Le bilan est désormais de deux morts et onze blessés."}
        assert removed == [bilans[other]] and added == [bilans[cited["doc_id"]]]
        assert "1 phrase(s) ajoutée(s), 1 retirée(s), 3 identique(s)" in view
    finally:
        pipeline.close()


def test_follow_up_uses_the_previous_question(cb):
    _, _, _, turns = ask(cb, SEED_QUESTION)
    _, transcript, _, turns = ask(cb, FOLLOW_UP, turns)
    assert [t["question"] for t in turns] == [SEED_QUESTION, FOLLOW_UP]
    follow = turns[1]["answer"]
    assert not follow["abstained"], "the follow-up should be answered with the earlier turn's context"
    quotes = " ".join(c["quote"] for c in follow["citations"])
    assert "Kremlin" in quotes
    with_context = cb.pipeline.ask(FOLLOW_UP, history=[SEED_QUESTION])
    assert follow["answer"] == with_context.answer  # the chat passed the conversation on
    *_, (_, _, alone_turns, _, _) = list(cb.respond(FOLLOW_UP, turns, standalone=True))
    assert alone_turns[-1]["answer"]["follow_up_of"] is None  # "ask it as a new question"
    assert alone_turns[-1]["answer"]["answer"] == cb.pipeline.ask(FOLLOW_UP).answer
    turns_after, transcript_after, panel_after, view_after = cb.new_chat()
    assert turns_after == [] and "dq-example" in transcript_after and "dq-card" not in panel_after


def test_abstention_in_the_questions_language(cb):
    _, transcript, panel, turns = ask(cb, OFF_TOPIC_FR)
    answer = turns[-1]["answer"]
    assert answer["abstained"] and not answer["citations"] and answer["related"]
    assert "ne répondent pas" in transcript and "Passages liés — pas des citations" in transcript
    assert 'class="dq-cite"' not in transcript
    _, transcript, _, turns = ask(cb, OFF_TOPIC_EN)
    assert turns[-1]["answer"]["abstained"]
    assert "do not answer this question" in transcript and "Related passages — not cited" in transcript


def test_bad_filter_message_in_the_interface_language_keeps_the_question(cb):
    steps = list(cb.respond(SEED_QUESTION, [], "hier", "", None, "fr"))
    transcript, _, turns, box, chips = steps[-1]
    assert turns == [] and "« hier » n’est pas une date du calendrier" in chips
    assert all(s[3] != "" for s in steps), "the question stays in the box to be sent again"
    *_, (_, _, turns, _, chips) = list(cb.respond(SEED_QUESTION, [], "2025-04", "2025-03", None, "en"))
    assert turns == [] and "is after the end date" in chips


def test_chat_checks_sources_and_question_sizes_like_the_api(cb):
    """The page's own event takes raw input too (queue/join): the same checks, in the question's language."""
    _, transcript, _, turns = ask(cb, SEED_QUESTION, sources=["AFP"] * 100_000)
    assert turns[-1]["error"] and "Trop de sources : 100000, au plus 50." in transcript
    _, transcript, _, turns = ask(cb, "What does Putin want?", sources=[None, 1, {}])
    assert "sources must be a list of agency names" in transcript
    _, transcript, _, turns = ask(cb, "Que dit Poutine ? " * 200)
    assert "La question est trop longue" in transcript
    _, transcript, _, turns = ask(cb, 12345)
    assert turns == []  # not text: treated as an empty box


def test_filters_reach_retrieval(cb):
    _, _, _, turns = ask(cb, SEED_QUESTION, date_from="2025-03", date_to="2025-03")
    answer = turns[-1]["answer"]
    cited = {c["doc_id"] for c in answer["citations"] + answer["related"]}
    assert cited == {"000_fb850ab909d3a4ae.txt"}, "only the dispatch dated 2025-03 passes the date filter"
    _, _, _, turns = ask(cb, SEED_QUESTION, sources=["Agence Introuvable"])
    answer = turns[-1]["answer"]
    assert answer["abstained"] and not answer["citations"] and not answer["related"]


def test_upload_index_ask_and_delete(cb, tmp_path):
    lib = cb.library_dir
    upload = article(tmp_path / "robot.txt", "Un robot cuisinier ouvre un restaurant à Lyon",
                     "Le robot Bocuse-3000 prépare chaque jour 240 quenelles au restaurant du Vieux-Lyon, "
                     "selon son conceptrice Camille Roux.")
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4")
    big = article(tmp_path / "big.txt", "Gros", "x " * 4000)
    progress = Progress()
    summary = cb.upload([str(upload), str(bad), str(big)], progress)
    assert "1 added" in summary and "2 refused" in summary
    assert "unsupported file type" in summary and "upload limit" in summary
    assert (lib / "robot.txt").is_file() and not upload.exists()
    assert progress.calls, "indexing reports progress"
    _, _, _, turns = ask(cb, "Combien de quenelles le robot prépare-t-il chaque jour ?")
    answer = turns[-1]["answer"]
    assert answer["citations"] and answer["citations"][0]["doc_id"] == "robot.txt"
    rows, note = cb.table("robot")
    assert rows and rows[0][4] == "robot.txt" and rows[0][5] == "uploaded"

    again = cb.upload([str(article(tmp_path / "robot.txt", "Un robot cuisinier ouvre un restaurant à Lyon",
                                   "Le robot Bocuse-3000 prépare 300 quenelles."))], Progress())
    assert "1 updated" in again

    summary = cb.delete("robot.txt", Progress())
    assert "robot.txt" in summary and not (lib / "robot.txt").exists()
    assert cb.pipeline.document("robot.txt") is None
    assert "no longer in the index" in cb.delete("robot.txt")


def test_delete_an_indexed_dispatch_keeps_its_file(cb, tmp_path):
    folder = tmp_path / "elsewhere"
    path = article(folder / "lune.txt", "Des tomates sur la Lune", "Les astronautes ont récolté trois kilos.")
    cb.pipeline.index([folder])
    message = cb.delete("lune.txt")
    assert "file is kept" in message and path.exists() and cb.pipeline.document("lune.txt") is None


def test_indexing_waits_for_another_writer(cb):
    from index.locking import writer_lock

    with writer_lock(cb.settings.data_dir / "index.lock", timeout=1):  # as if `dispatch-qa index` were running
        message = cb.reindex(Progress())
    assert "Indexing did not run" in message and "another indexing run" in message
    assert "0 refused" in cb.reindex(Progress())


def test_api_ask_returns_the_core_json(cb):
    data = cb.api_ask(SEED_QUESTION, history=[])
    assert data["schema_version"] == 1 and data["citations"] and set(data["timings_ms"]) >= {"retrieve", "total"}
    with pytest.raises(ValueError, match="date_from"):
        cb.api_ask(SEED_QUESTION, date_from="hier")


def test_empty_index_says_so(tmp_path, embedder):
    settings = make_settings(tmp_path / "empty")
    pipeline = open_pipeline(settings, embedder)
    try:
        empty = ChatCallbacks(pipeline, settings)
        *_, (transcript, _, turns, _, _) = list(empty.respond("Que dit Zelensky ?", []))
        assert "L’index est vide" in transcript and turns[-1]["error"]
        *_, (transcript, _, _, _, _) = list(empty.respond("What does Zelensky say?", []))
        assert "The index is empty" in transcript
    finally:
        pipeline.close()


def test_library_folder_is_under_the_data_dir(cb):
    assert cb.library_dir == Path(cb.settings.data_dir) / "library"
