"""index.agencies: pure, so plain strings in and out."""

import pytest

from index.agencies import canonical_agency, dateline, dateline_date, explicit_source, signature


@pytest.mark.parametrize(("name", "expected"), [
    ("afp", "AFP"), ("Agence France-Presse", "AFP"), (" reuters. ", "Reuters"), ("ria-novosti", "RIA Novosti"),
    ("Le Monde", None), ("", None), (None, None),
])
def test_canonical_agency(name, expected):
    assert canonical_agency(name) == expected


def test_dateline_gives_the_agency_and_where_the_text_starts():
    body = "Kiev, 14 mars (Reuters) — Les négociations reprennent."
    agency, length = dateline(body)
    assert agency == "Reuters"
    assert body[length:] == "Les négociations reprennent."
    assert dateline("Le président de l'AFP a parlé.") == (None, 0)


def test_dateline_date():
    assert dateline_date("Lyon, 12 mars 2025 (AFP) - Le maire a parlé.") == "2025-03-12"
    assert dateline_date("PARIS (AFP) - Le maire a parlé.") is None


@pytest.mark.parametrize(("last_line", "expected"), [
    ("(AFP)", "AFP"), ("© Reuters 2025", "Reuters"), ("Avec AFP.", "AFP"), ("-- AP", "AP"),
    ("Source : Reuters", "Reuters"), ("L'AFP a confirmé l'information à la mi-journée.", None),
])
def test_signature(last_line, expected):
    assert signature(f"Le maire a inauguré le pont.\n{last_line}") == expected


def test_one_line_has_no_signature_and_a_mention_is_no_source():
    assert signature("(AFP)") is None
    assert explicit_source("Selon l'AFP, le pont est ouvert.\nIl a coûté cher.") is None
    assert explicit_source("PARIS (AFP) - Le pont est ouvert.") == "AFP"
