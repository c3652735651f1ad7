"""The words that answer (assistant/highlight.py) and the eval's span metrics, on tiny strings."""

from __future__ import annotations

from assistant.highlight import highlight_span
from assistant.metrics import dangling_answer, highlighted_text, normalize_span, span_exact_match, span_f1
from assistant.question_kind import question_type


def _hl(question: str, quote: str) -> str | None:
    found = highlight_span(question, question_type(question), quote)
    return None if found is None else quote[found[0]:found[1]]


def test_number_with_its_unit():
    assert _hl("Combien d'euros Kallas propose-t-elle ?",
               "Kaja Kallas veut proposer jusqu'à 40 milliards d'euros d'aide.") == "40 milliards d'euros"


def test_date():
    assert _hl("En quelle année le traité a-t-il été signé ?", "Le traité fut signé en 1648 à Münster.") in ("en 1648", "1648")
    assert _hl("Quand la ville a-t-elle été reprise ?", "La ville a été reprise le 12 mars 2025 par l'armée.") \
        == "le 12 mars 2025"


def test_person_not_already_in_the_question():
    assert _hl("Qui est le porte-parole du Kremlin ?", "Le porte-parole du Kremlin, Dmitri Peskov, a parlé.") \
        == "Dmitri Peskov"


def test_place():
    assert _hl("Où se tenait la réunion du G7 ?", "La réunion du G7 se tenait au Canada cette semaine.") == "Canada"


def test_nothing_that_fits_is_none():
    assert _hl("Combien de soldats ?", "Aucun chiffre n'a été donné.") is None


def test_normalised_exact_match_and_f1():
    assert normalize_span("L'Élysée.") == "elysee"
    assert span_exact_match("le Canada", ["Canada"]) == 1.0
    assert span_f1(None, ["Canada"]) == 0.0
    assert abs(span_f1("Dmitri Peskov a dit", ["Dmitri Peskov"]) - 2 / 3) < 1e-9


def test_highlighted_text_of_a_row_and_dangling_answers():
    row = {"doc_id": "d", "quote": "au Canada.", "start": 10, "end": 20, "highlight": {"start": 13, "end": 19}}
    assert highlighted_text(row) == "Canada"
    assert highlighted_text("doc-id") is None
    assert dangling_answer("« Il a dit non. [1]") and not dangling_answer("Il y a eu deux morts. [1]")


# -- shown: terminal, chat, dispatch viewer, Markdown -------------------------------------------

CITATION = {"marker": 1, "doc_id": "d", "source_path": "/x/d.txt", "title": "T", "date": None, "source": None,
            "quote": "La réunion se tenait\nau <Canada>.", "start": 100, "end": 133, "score": 1.0,
            "highlight": {"start": 124, "end": 131}}


def test_quote_parts_on_one_line():
    from assistant.highlight import quote_parts

    assert quote_parts(CITATION["quote"], 100, CITATION["highlight"]) == ("La réunion se tenait au ", "<Canada", ">.")
    assert quote_parts("a  b", 0, None) == ("a b", "", "")
    assert quote_parts("a b", 0, {"start": 5, "end": 9}) == ("a b", "", "")


def test_chat_card_and_markdown_mark_the_words():
    from ui.render import answer_markdown, quote_html, sources_html

    assert quote_html(CITATION) == 'La réunion se tenait au <strong class="dq-hl">&lt;Canada</strong>&gt;.'
    assert '<strong class="dq-hl">' in sources_html({"question": "q", "citations": [CITATION]}, 0)
    md = answer_markdown({"question": "q", "answer": "a [1]", "citations": [CITATION], "language": "fr"})
    assert "> La réunion se tenait au **<Canada**>." in md


def test_dispatch_viewer_marks_the_words_inside_the_passage():
    from ui.render import dispatch_html

    text = "x" * 100 + CITATION["quote"] + " fin"
    html = dispatch_html({"doc_id": "d", "text": text}, CITATION, "fr")
    assert '<mark class="dq-mark">La réunion se tenait\nau <strong class="dq-hl">&lt;Canada</strong>&gt;.</mark>' in html


def test_terminal_bold_only_when_asked():
    from types import SimpleNamespace

    from assistant.cli import _source_lines

    c = SimpleNamespace(**CITATION)
    assert _source_lines("[1]", c)[2] == "    « La réunion se tenait au <Canada>. »"
    assert _source_lines("[1]", c, bold=True)[2] == "    « La réunion se tenait au \033[1m<Canada\033[0m>. »"


def test_the_learned_scorer_matches_the_features_and_marks_words_the_question_lacks():
    from assistant.highlight import learned_weights
    from assistant.span_features import candidate_spans

    quote = "Le club a affronté l'US Livourne en finale, devant dix mille spectateurs."
    question = "Quelle équipe le club a-t-il affronté en finale ?"
    weights = learned_weights()
    assert weights is not None and len(weights) == len(candidate_spans(question, None, quote)[0][2])
    found = _hl(question, quote)
    assert found and "club" not in found and "finale" not in found


def test_qu_est_ce_qui_asks_for_a_thing_not_a_person():
    assert question_type("Qu'est-ce qui a ralenti l'émergence d'une musique nationale ?") is None
    assert question_type("Par qui est codifié le théâtre romantique ?") == "person"


def test_chat_answer_body_marks_the_words_and_says_what_it_follows():
    from ui.render import answer_body_html

    answer = {"answer": "La réunion se tenait au <Canada>. [1]", "citations": [CITATION], "language": "fr",
              "mode": "extractive", "follow_up_of": "Où était le G7 ?"}
    body = answer_body_html(answer, 0)
    assert '<strong class="dq-hl">&lt;Canada</strong>&gt;.' in body and 'data-cite="1"' in body
    assert "Compris comme la suite de « Où était le G7 ? »" in body
    assert 'data-standalone="' in body
    answer["follow_up_of"] = None
    assert "la suite de" not in answer_body_html(answer, 0)
