"""Quotes that stand on their own (assistant/antecedent.py) on tiny strings."""

from __future__ import annotations

from assistant.antecedent import dangles, needs_antecedent, quote_start
from index.chunking import split_sentences


def _start_of(text: str, sentence: str) -> int | None:
    spans = [s for s in split_sentences(text) if s.kind == "sentence"]
    i = next(i for i, s in enumerate(spans) if text[s.start:s.end].startswith(sentence))
    return quote_start(text, spans, i)


def test_the_eval_rule_for_dangling_openings():
    assert dangles("Il a ajouté que la trêve tenait.")
    assert dangles("« Elles ont quitté la ville.")
    assert dangles("Mardi, ils ont signé l'accord.")
    assert not dangles("Il y a trois blessés.")
    assert not dangles("Il faut attendre.")
    assert not dangles("Il s'agit d'une première.")
    assert not dangles("Ilya Repine peint.")
    assert not dangles("Emmanuel Macron a dit qu'il viendrait.")


def test_references_that_need_the_sentence_before():
    assert needs_antecedent("Ce dernier a démissionné.")
    assert needs_antecedent("Celui-ci a refusé.")
    assert needs_antecedent("Le président a refusé.", "Emmanuel Macron est arrivé à Kiev.")
    assert not needs_antecedent("Le président a refusé.", "la réunion a commencé tard.")
    assert not needs_antecedent("Le président Macron a refusé.", "Emmanuel Macron est arrivé.")
    assert not needs_antecedent("La secrétaire de presse, Karoline Leavitt, a dit non.", "Kiev a parlé.")


def test_a_pronoun_is_quoted_with_the_sentence_that_names_it():
    text = "Dmitri Peskov a parlé mardi. Il a rejeté l'offre."
    assert _start_of(text, "Il a rejeté") == 0
    assert text[_start_of(text, "Il a rejeté"):].startswith("Dmitri Peskov")


def test_two_sentences_back_at_most_and_chains_resolve():
    text = "Kaja Kallas a parlé. Elle a proposé 40 milliards. Elle a insisté."
    assert _start_of(text, "Elle a insisté") == 0


def test_never_across_a_line_or_heading():
    assert _start_of("Poutine a parlé.\nIl a menacé.", "Il a menacé") is None
    assert _start_of("Poutine a parlé.\n\n## Réactions\n\nIl a menacé.", "Il a menacé") is None


def test_a_standalone_sentence_keeps_its_start():
    text = "Poutine a parlé. Le Kremlin a répondu."
    assert _start_of(text, "Le Kremlin") == text.index("Le Kremlin")


def test_a_one_sentence_paragraph_leads_the_next_but_a_heading_does_not():
    from assistant.antecedent import lead_sentence

    text = "Marco Rubio a parlé.\n\nIl s'exprimait au Canada."
    spans = split_sentences(text)
    assert lead_sentence(text, spans, spans[-1]) == spans[0]
    text = "Marco Rubio a parlé.\n\n## Réactions\n\nIl s'exprimait au Canada."
    spans = split_sentences(text)
    assert lead_sentence(text, spans, spans[-1]) is None
    text = "Paris.\n\nIl a parlé.\n\nIl s'exprimait au Canada."
    spans = split_sentences(text)
    assert lead_sentence(text, spans, spans[-1]) is None  # the one before points back too
