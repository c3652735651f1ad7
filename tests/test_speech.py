"""Whose words a question asks for, and whether a sentence reports them (assistant/speech.py)."""

from __future__ import annotations

import pytest

from assistant.speech import asked_speaker, reports_speaker


@pytest.mark.parametrize("question,speaker", [
    ("Que demande Poutine pour un cessez-le-feu ?", "poutine"),
    ("Que dit Zelensky de la situation ?", "zelensky"),
    ("Qu'a déclaré Dmitri Peskov ?", "peskov"),
    ("Que réclame le Kremlin ?", "kremlin"),
    ("Que veut Mme Kallas ?", "kallas"),
])
def test_questions_asking_for_someones_words(question, speaker):
    assert asked_speaker(question) == speaker


@pytest.mark.parametrize("question", [
    "Que mange le chat ?", "Quelle est la capitale du Canada ?", "Qui a dit cela ?", "Que demande-t-on ?",
])
def test_other_questions_ask_for_no_speaker(question):
    assert asked_speaker(question) is None


def test_the_speaker_must_be_the_one_saying_or_wanting():
    assert reports_speaker("poutine", "Jeudi, M. Poutine a déclaré qu'il soutenait la proposition.")
    assert reports_speaker("poutine", "Poutine a déclaré qu'il souhaitait que l'Ukraine renonce à l'OTAN.")
    assert reports_speaker("kremlin", "Le Kremlin exige le retrait des troupes.")
    # Putin as the object, or doing something that is not saying or wanting:
    assert not reports_speaker("poutine", "Donald Trump a exhorté M. Poutine à signer un accord.")
    assert not reports_speaker("poutine", "J'ai demandé avec insistance au président Poutine d'épargner leurs vies.")
    assert not reports_speaker("poutine", "Le Kremlin a déclaré que M. Poutine avait envoyé un message.")
    assert not reports_speaker("poutine", "Volodymyr Zelensky a répondu au Kremlin.")


def test_a_body_speaks_for_its_country():
    assert reports_speaker("kiev", "Toutefois, l'armée de Kiev a immédiatement déclaré qu'il n'y avait pas de menace.")
    assert not reports_speaker("kiev", "Le président américain a appelé les soldats de Kiev à se rendre.")
