"""Which questions need the conversation (assistant/followup.py)."""

from __future__ import annotations

import pytest

from assistant.followup import follow_up_of, is_elliptic

ELLIPTIC = ["Et qu'en dit le Kremlin ?", "Et lui ?", "Pourquoi ?", "Quand ?", "Qu'a-t-elle dit aux journalistes ?",
            "Qu'a-t-il répondu ?", "Combien a-t-il payé ?", "Que dit ce dernier ?", "What did he say?"]
STANDALONE = ["Qui est le porte-parole du Kremlin ?", "Que demande Poutine pour un cessez-le-feu ?",
              "Combien de temps faut-il pour cuire des pâtes al dente ?", "Quel temps fera-t-il demain à Brest ?",
              "Quelle ville les forces ukrainiennes ont-elles quittée ?",
              "Jusqu'à combien d'euros d'aide militaire Kaja Kallas veut-elle proposer ?",
              "Who is the Kremlin spokesman?"]


@pytest.mark.parametrize("question", ELLIPTIC)
def test_elliptic(question):
    assert is_elliptic(question)


@pytest.mark.parametrize("question", STANDALONE)
def test_standalone(question):
    assert not is_elliptic(question)


def test_follow_up_of_names_the_previous_question():
    assert follow_up_of("Et lui ?", ["a ?", "b ?"]) == "b ?"
    assert follow_up_of("Et lui ?", []) is None
    assert follow_up_of("Qui est le porte-parole du Kremlin ?", ["b ?"]) is None
