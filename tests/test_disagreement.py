"""Sources that disagree (assistant/disagreement.py), on tiny strings."""

from __future__ import annotations

from assistant.disagreement import Claim, compose_text, conflict, disagreeing_sides, sides
from index.french import analyze

TRUMP = "Le président américain a déclaré que des milliers de soldats ukrainiens étaient complètement encerclés."
KIEV = "Toutefois, l'armée de Kiev a déclaré qu'il n'y avait pas de menace d'encerclement."
FIVE = "La Russie réclame la cession de cinq régions annexées."
FOUR = "Poutine a déclaré qu'il voulait que la Russie contrôle les quatre régions ukrainiennes qu'elle revendique."


def test_a_claim_and_its_denial():
    terms = set(analyze("Les soldats ukrainiens sont-ils encerclés ?"))
    assert conflict(TRUMP, KIEV, terms) == "denial"
    assert conflict(KIEV, TRUMP, terms) == "denied"
    assert conflict(TRUMP, "Moscou dément que les soldats soient encerclés.", terms) == "denial"
    assert conflict(TRUMP, "Les soldats ukrainiens sont encerclés, selon Moscou.", terms) is None  # they agree


def test_a_denial_must_be_about_the_asked_subject():
    assert conflict(TRUMP, KIEV, set(analyze("Combien de soldats ?"))) is None
    # the negation is far from the word: not a denial of it
    far = "Il n'y a pas eu de réunion jeudi à Moscou et les soldats restent encerclés."
    assert conflict(TRUMP, far, set(analyze("Les soldats sont-ils encerclés ?"))) is None


def test_two_figures_for_one_thing():
    assert conflict(FIVE, FOUR, set(analyze("Combien de régions la Russie revendique-t-elle ?"))) == "figures"
    assert conflict(FIVE, "La Russie réclame cinq régions.", {"region"}) is None  # same figure
    assert conflict(FIVE, FOUR, {"soldat"}) is None  # not what is asked


def test_sides_need_two_speakers():
    terms = analyze("Les soldats ukrainiens sont-ils encerclés ?")
    claims = [Claim(KIEV, "l'armée de Kiev"), Claim("La météo est belle.", None), Claim(TRUMP, "Donald Trump")]
    assert sides(terms, claims, chosen=1) == (2, 0, "denial")  # the claim first, then its denial
    same = [Claim(KIEV, "Kiev"), Claim(TRUMP, "Kiev")]
    assert sides(terms, same, chosen=1) is None
    nobody = [Claim(KIEV, None), Claim(TRUMP, None)]
    assert sides(terms, nobody, chosen=1) is None
    narration = [Claim(KIEV, "l'armée de Kiev"), Claim(TRUMP, None)]  # one side unnamed: not two sources
    assert sides(terms, narration, chosen=1) is None


def test_disagreeing_sides_skips_overlapping_sentences():
    claims = {"a": Claim(TRUMP, "Donald Trump", "d1", 0, 100), "b": Claim(KIEV, "Kiev", "d1", 50, 150),
              "c": Claim(KIEV, "Kiev", "d2", 0, 90)}
    found = disagreeing_sides(analyze("Les soldats sont-ils encerclés ?"), "fr", ["a"], ["a", "b", "c"], claims.get)
    assert found == ("a", "c", "denial")


def test_the_answer_text_quotes_each_side_in_the_questions_language():
    fr = compose_text("fr", "denial", ("Donald Trump", TRUMP, 1), ("l'armée de Kiev", KIEV, 2))
    assert fr == f"Selon Donald Trump : « {TRUMP} » [1] L'armée de Kiev affirme au contraire : « {KIEV} » [2]"
    en = compose_text("en", "figures", ("La Russie", FIVE, 1), (None, FOUR, 2))
    assert en.startswith("According to la Russie: “") and "The dispatch gives another figure: “" in en
    assert FIVE in en and FOUR in en and en.endswith("[2]")
