"""Date mentions resolved against the dispatch's date: one tiny string per form."""

from __future__ import annotations

import pytest

from assistant.date_mentions import find_date_mentions, format_value, quote_dates, with_dates

FRIDAY = "2025-03-14"  # a Friday


def mentions(text: str, anchor: str | None = FRIDAY) -> list[tuple[str, str | None]]:
    return [(m.text, m.value) for m in find_date_mentions(text, anchor)]


@pytest.mark.parametrize(("text", "anchor", "expected"), [
    # a weekday alone: the most recent such day on or before the dispatch day
    ("Poutine a appelé vendredi les soldats", FRIDAY, [("vendredi", "2025-03-14")]),
    ("Il s'est exhibé mercredi en treillis", FRIDAY, [("mercredi", "2025-03-12")]),
    ("Le sommet a eu lieu samedi", FRIDAY, [("samedi", "2025-03-08")]),
    ("jeudi dernier", FRIDAY, [("jeudi dernier", "2025-03-13")]),
    ("vendredi dernier", FRIDAY, [("vendredi dernier", "2025-03-07")]),
    ("lundi prochain", FRIDAY, [("lundi prochain", "2025-03-17")]),
    ("d'ici lundi", FRIDAY, [("lundi", "2025-03-17")]),
    ("hier, aujourd'hui, demain", FRIDAY, [("hier", "2025-03-13"), ("aujourd'hui", "2025-03-14"),
                                          ("demain", "2025-03-15")]),
    ("avant-hier", FRIDAY, [("avant-hier", "2025-03-12")]),
    ("dans la nuit de jeudi à vendredi", FRIDAY, [("jeudi", "2025-03-13"), ("vendredi", "2025-03-14")]),
    ("lundi 3 mars", FRIDAY, [("lundi 3 mars", "2025-03-03")]),
    ("le 14 mars", "2025-03-20", [("14 mars", "2025-03-14")]),
    ("le 20 décembre", "2025-01-05", [("20 décembre", "2024-12-20")]),
    ("le 1er mars", FRIDAY, [("1er mars", "2025-03-01")]),
    ("14 mars 2025", None, [("14 mars 2025", "2025-03-14")]),
    ("le 14/03/2025", None, [("14/03/2025", "2025-03-14")]),
    ("en août dernier", FRIDAY, [("août dernier", "2024-08")]),
    ("en août 2024", None, [("août 2024", "2024-08")]),
    ("depuis mars", FRIDAY, [("mars", "2025-03")]),
    ("la semaine dernière", FRIDAY, [("la semaine dernière", "2025-03")]),
    ("la semaine dernière", "2025-03-04", [("la semaine dernière", None)]),  # 24 Feb - 2 Mar: two months
    ("le mois dernier", FRIDAY, [("le mois dernier", "2025-02")]),
    ("le mois dernier", "2025-01", [("le mois dernier", "2024-12")]),
    ("l'an dernier", FRIDAY, [("l'an dernier", None)]),
    ("en 2014", FRIDAY, [("2014", None)]),
    ("on Friday, last Monday and March 14, 2025", FRIDAY,
     [("Friday", "2025-03-14"), ("last Monday", "2025-03-10"), ("March 14, 2025", "2025-03-14")]),
    ("yesterday", FRIDAY, [("yesterday", "2025-03-13")]),
])
def test_each_form_resolves_against_a_full_day(text, anchor, expected):
    assert mentions(text, anchor) == expected


@pytest.mark.parametrize("text", ["vendredi", "jeudi dernier", "hier", "lundi prochain", "la semaine dernière"])
def test_a_month_only_dispatch_date_never_guesses_a_day(text):
    assert [v for _, v in mentions(text, "2025-03")] == [None]
    assert [v for _, v in mentions(text, None)] == [None]


def test_month_level_mentions_resolve_with_a_month_only_date():
    assert mentions("en août dernier, le mois dernier", "2025-03") == [("août dernier", "2024-08"),
                                                                        ("le mois dernier", "2025-02")]


def test_a_stated_weekday_picks_the_year():
    assert mentions("vendredi 14 mars", "2026-01-10") == [("vendredi 14 mars", "2025-03-14")]


def test_words_that_are_not_dates():
    assert mentions("Il a dit qu'il mai pas, May I help? La planète Mars. Mardigras.") == []


def test_offsets_are_document_offsets_inside_the_quote():
    text = "Titre\n\nIl a parlé jeudi. Vendredi, il est parti."
    start = text.index("Vendredi")
    found = quote_dates(text, start, len(text), FRIDAY)
    assert found == [{"text": "Vendredi", "start": start, "end": start + 8, "value": "2025-03-14"}]
    assert all(text[d["start"]:d["end"]] == d["text"] for d in found)


def test_rendering_puts_the_date_beside_the_words():
    quote = "Poutine a appelé vendredi les soldats, hier."
    dates = quote_dates(quote, 0, len(quote), FRIDAY)
    assert with_dates(quote, 0, dates) == "Poutine a appelé vendredi (14 mars 2025) les soldats, hier (13 mars 2025)."
    assert with_dates(quote, 0, quote_dates(quote, 0, len(quote), "2025-03")) == quote
    assert format_value("2025-03-01") == "1er mars 2025"
    assert format_value("2025-03", "en") == "March 2025"


def test_the_terminal_quote_shows_dates_and_keeps_its_highlight():
    from assistant.date_mentions import dated_quote
    from assistant.highlight import quote_parts

    text = "Intro. Poutine a appelé vendredi les soldats à se rendre."
    start = text.index("Poutine")
    quote = text[start:]
    hl = {"start": text.index("les soldats"), "end": text.index(" à se")}
    dated, moved = dated_quote(quote, start, hl, quote_dates(text, start, len(text), FRIDAY))
    assert quote_parts(dated, start, moved) == ("Poutine a appelé vendredi (14 mars 2025) ", "les soldats",
                                                " à se rendre.")


def test_month_after_le_mois_de_and_avant():
    assert mentions("dès le mois d'avril, puis avant septembre", "2020-06-23") == [("avril", "2020-04"),
                                                                                   ("septembre", "2020-09")]


def test_d_aujourd_hui_is_not_a_day():
    assert mentions("les principes d'aujourd'hui") == []
    assert mentions("celles d’hier") == [("hier", "2025-03-13")]


def test_labelled_set_accuracy_stays_above_the_floor():
    from assistant.bench_dates import DEFAULT_LABELS, load_labels, score

    items = load_labels(DEFAULT_LABELS)
    report = score(items)
    assert report["mentions"] >= 100 and report["coarse_mentions"] >= 20
    assert report["accuracy"] >= 0.95
    assert report["coverage"] >= 0.95
    assert report["resolved_despite_coarse_date"] == 0


def test_bad_label_lines_name_the_file_line_and_field(tmp_path):
    from assistant.bench_dates import load_labels

    path = tmp_path / "labels.jsonl"
    path.write_text('{"sentence": "hier", "mention": "hier", "offset": 0, "value": null}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.jsonl:1: missing field 'article_date'"):
        load_labels(path)
