"""Refusal reasons in the page's language (ui/reasons.py), on the loaders' own wording."""

from __future__ import annotations

from index.sniff import not_text_reason
from ui.reasons import refusal_reason


def test_a_pdf_renamed_txt_is_refused_in_french_on_a_french_page():
    reason = not_text_reason(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    assert refusal_reason(reason, "fr") == ("fichier binaire, pas du texte : son contenu est un document PDF, "
                                            "quelle que soit son extension")
    assert refusal_reason(reason, "en") == reason


def test_sizes_types_json_and_joined_reasons():
    assert refusal_reason("file is 12 bytes, over the upload limit of 10 bytes (upload_max_bytes)", "fr") == \
        "le fichier fait 12 octets, au-delà de la limite d'envoi de 10 octets (upload_max_bytes)"
    assert refusal_reason("unsupported file type '.pdf' (accepted: .txt, .md)", "fr") == \
        "type de fichier non pris en charge '.pdf' (acceptés : .txt, .md)"
    assert refusal_reason("malformed JSON: Expecting value at line 1 column 1", "fr") == \
        "JSON mal formé : Expecting value at line 1 column 1"
    assert refusal_reason("empty file; record 3 has no 'text' field", "fr") == \
        "fichier vide; l'enregistrement 3 n'a pas de champ 'text'"
    assert refusal_reason("binary file, not text: the content is binary data (40% control characters), "
                          "whatever its extension", "fr").startswith("fichier binaire, pas du texte : son contenu "
                                                                     "est des données binaires (40% de caractères")


def test_an_unknown_reason_is_shown_as_it_is():
    assert refusal_reason("something new went wrong", "fr") == "something new went wrong"
