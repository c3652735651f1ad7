"""Who said what and sources that disagree, on the two seed dispatches with the real pipeline
(issue 13, parts 2 and 3): each side of a conflict is cited with its speaker."""

from __future__ import annotations

import pytest
from conftest import SEED_DATED, SEED_UNDATED

from assistant.attribution import same_speaker
from assistant.cli import render_answer

pytestmark = pytest.mark.slow  # the real model and Chroma

ENCIRCLED = "Les soldats ukrainiens sont-ils encerclés ?"
REGIONS = "Combien de régions ukrainiennes la Russie revendique-t-elle ?"


def _exact(answer, pipeline):
    for c in answer.citations:
        text = pipeline.records.document(c.doc_id).text
        assert c.quote == text[c.start:c.end]
        assert c.quote in answer.answer  # each side is quoted whole, words around it added


def test_encircled_or_not_cites_both_sides(seeds_pipeline):
    answer = seeds_pipeline.ask(ENCIRCLED)
    assert answer.disagreement is not None, answer.answer
    assert [side["markers"] for side in answer.disagreement] == [[1], [2]]
    said, denied = answer.citations
    assert "encerclés" in said.quote and "pas de menace d'encerclement" in denied.quote
    assert said.speaker is not None and ("président américain" in said.speaker or "Trump" in said.speaker)
    assert denied.speaker is not None and any(w in denied.speaker for w in ("Kiev", "ukrainienne"))
    assert [side["speaker"] for side in answer.disagreement] == [said.speaker, denied.speaker]
    assert answer.answer.startswith("Selon ") and "affirme au contraire" in answer.answer
    _exact(answer, seeds_pipeline)


def test_four_or_five_regions_cites_both_figures(seeds_pipeline):
    answer = seeds_pipeline.ask(REGIONS)
    assert answer.disagreement is not None, answer.answer
    quotes = {c.doc_id: c.quote for c in answer.citations}
    assert "cinq régions" in quotes[SEED_DATED] and "quatre régions" in quotes[SEED_UNDATED]
    speakers = [side["speaker"] for side in answer.disagreement]
    assert any(s and same_speaker(s, "Vladimir Poutine") for s in speakers), speakers
    assert any(s and "Russie" in s for s in speakers), speakers
    _exact(answer, seeds_pipeline)


def test_an_english_question_gets_english_connectives(seeds_pipeline):
    answer = seeds_pipeline.ask("How many Ukrainian regions does Russia claim?")
    assert answer.language == "en" and answer.disagreement is not None, answer.answer
    assert answer.answer.startswith("According to ") and "gives another figure" in answer.answer
    _exact(answer, seeds_pipeline)


@pytest.mark.parametrize("question", [
    "Qui est le porte-parole du Kremlin ?", "Que demande Poutine pour un cessez-le-feu ?",
    "Où se tenait la réunion du G7 ?", "Who is the Kremlin spokesman?",
])
def test_no_conflict_no_disagreement(seeds_pipeline, question):
    answer = seeds_pipeline.ask(question)
    assert not answer.abstained and answer.disagreement is None, answer.answer
    assert answer.to_dict()["disagreement"] is None


def test_citations_name_their_speaker(seeds_pipeline):
    answer = seeds_pipeline.ask("Qui est le porte-parole du Kremlin ?")
    peskov = [c for c in answer.citations if "Peskov" in c.quote]
    assert peskov and peskov[0].speaker == "Dmitri Peskov", [(c.quote, c.speaker) for c in answer.citations]
    answer = seeds_pipeline.ask("Quelle localité voisine l'armée russe a-t-elle revendiqué avoir reconquise ?")
    gontcharovka = next(c for c in answer.citations if "Gontcharovka" in c.quote)
    assert gontcharovka.speaker == "l'armée russe"
    assert "selon l'armée russe" in render_answer(answer)


def test_json_carries_speaker_and_disagreement(cli, seeds_settings):
    result = cli("ask", ENCIRCLED, "--data-dir", seeds_settings.data_dir, "--json")
    assert result.code == 0
    data = result.json
    assert data["schema_version"] == 1
    assert all("speaker" in c for c in data["citations"])
    assert [side["speaker"] for side in data["disagreement"]] == [c["speaker"] for c in data["citations"]]
    plain = cli("ask", "Où se tenait la réunion du G7 ?", "--data-dir", seeds_settings.data_dir, "--json").json
    assert plain["disagreement"] is None
