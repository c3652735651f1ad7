from pathlib import Path

import pytest

from index.chunking import (
    CHUNKING_VERSION,
    Chunk,
    Span,
    chunk_spans,
    is_heading_line,
    split_sentences,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ["000_fb850ab909d3a4ae.txt", "004_da38df29cfe89a6a.txt"]


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str, body_start: int = 0) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text, body_start)]


def test_version():
    assert CHUNKING_VERSION == "1"


# --- headings ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '- "optimisme prudent" -',
        "- Les bombardements continuent -",
        "– Un titre –",
        "# Titre",
        "## Sous-titre",
        "LES ENJEUX DU SOMMET",
        "M. TRUMP EXHORTE M. POUTINE À SIGNER",
        "  - Avec des espaces -  ",
    ],
)
def test_is_heading_line_true(line):
    assert is_heading_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "-",
        "- - -",
        "- Oui, a-t-il répondu.",
        "Une phrase normale.",
        "#hashtag sans espace",
        "A",
        "2025",
        "- " + "très long intertitre " * 10 + "-",
        "UNE LIGNE EN MAJUSCULES " * 8,
    ],
)
def test_is_heading_line_false(line):
    assert not is_heading_line(line)


# --- sentences --------------------------------------------------------------


def test_basic_split_and_terminators():
    text = "Il pleut. Vraiment ? Oui ! Et alors… Fin?! Puis 2025 arriva."
    assert sentences(text) == [
        "Il pleut.", "Vraiment ?", "Oui !", "Et alors…", "Fin?!", "Puis 2025 arriva.",
    ]  # fmt: skip


def test_no_split_before_lowercase_or_without_space():
    assert sentences("Il dit etc. et partit.") == ["Il dit etc. et partit."]
    assert sentences("Voir le site exemple.fr pour plus.") == [
        "Voir le site exemple.fr pour plus."
    ]
    assert sentences("Des pommes, des poires, etc. Le reste suit.") == [
        "Des pommes, des poires, etc.",
        "Le reste suit.",
    ]


def test_no_split_after_titles_and_abbreviations():
    for text in [
        "Selon M. Poutine la guerre continue.",
        "MM. Trump et Poutine se sont parlé.",
        "Le Dr. Martin et Mme. Durand sont venus.",
        "Voir p. 12 et cf. Annexe 3.",
        "Il pèse env. 30 kilos.",
        "Le 12 janv. 2025 et le 3 févr. 2024 ils ont signé.",
        "Le 12 sept. 2024 ils ont signé.",
        "Un livre de J. K. Rowling et un discours de F. Hollande.",
        "Jean-Claude Juncker, dit J.-C. Juncker, a parlé.",
    ]:
        assert sentences(text) == [text], text


def test_split_after_sentence_ending_words_that_look_like_abbreviations():
    assert sentences("Ils étaient sept. Puis huit.") == [
        "Ils étaient sept.",
        "Puis huit.",
    ]
    assert sentences("Né en 52 av. J.-C. Les Gaulois perdirent.") == [
        "Né en 52 av. J.-C.",
        "Les Gaulois perdirent.",
    ]
    assert sentences("Louis XVI. Le roi.") == ["Louis XVI.", "Le roi."]


def test_no_split_inside_numbers():
    text = "La hausse est de 1,5 point. Le taux vaut 3.14 et 1.000.000 euros."
    assert sentences(text) == [
        "La hausse est de 1,5 point.",
        "Le taux vaut 3.14 et 1.000.000 euros.",
    ]


def test_closing_quotes_stay_with_their_sentence():
    text = (
        'Il a dit « c\'est fini. » Puis il est parti. Elle a crié "Non!" Ensuite rien.'
    )
    assert sentences(text) == [
        "Il a dit « c'est fini. »",
        "Puis il est parti.",
        'Elle a crié "Non!"',
        "Ensuite rien.",
    ]


def test_split_before_opening_quote_and_dash():
    text = 'Il hésite. "Non", dit-il. « Oui. » — Vraiment.'
    assert sentences(text) == [
        "Il hésite.",
        '"Non", dit-il.',
        "« Oui. »",
        "— Vraiment.",
    ]


def test_no_split_inside_quotes():
    for text in [
        "Il a dit « J'ai faim. Donne-moi du pain. » avant de partir.",
        'Il a dit "J\'ai faim. Donne-moi du pain." avant de partir.',
        "Il a dit “J'ai faim. Donne-moi du pain.” avant de partir.",
        '"J\'ai demandé. Que Dieu les bénisse tous !!!"',
    ]:
        assert sentences(text) == [text], text


def test_stray_straight_quote_does_not_swallow_paragraph():
    # Unbalanced closer glued to a word, as in the seed dispatch.
    text = 'Un terme évité par le pouvoir américain" - et voilà. Puis la suite.'
    assert sentences(text) == [
        'Un terme évité par le pouvoir américain" - et voilà.',
        "Puis la suite.",
    ]


def test_paragraph_break_closes_open_quote():
    text = "Il a dit « Bonjour. Ça va\n\nNouveau paragraphe. Deuxième phrase."
    assert sentences(text) == [
        "Il a dit « Bonjour. Ça va",
        "Nouveau paragraphe.",
        "Deuxième phrase.",
    ]


def test_overlong_open_quote_is_ignored():
    long_sentence = "Une phrase assez longue pour remplir la citation. "
    body = long_sentence * 30  # ~1500 chars, never closed
    text = "« " + body.strip()
    assert len(sentences(text)) == 30
    short = "« " + (long_sentence * 3).strip()
    assert len(sentences(short)) == 1


def test_elision_marker_does_not_split():
    text = "Il a dit que [...] Les autres ont suivi."
    assert sentences(text) == [text]


def test_newlines_always_end_sentences():
    text = "Première ligne sans point\nDeuxième ligne\r\n\r\n  Troisième.  "
    assert sentences(text) == [
        "Première ligne sans point",
        "Deuxième ligne",
        "Troisième.",
    ]


def test_headings_get_their_own_span():
    text = "Intro. Suite.\n\n- Les enjeux -\n\nCorps du texte."
    spans = split_sentences(text)
    assert [s.kind for s in spans] == ["sentence", "sentence", "heading", "sentence"]
    assert text[spans[2].start : spans[2].end] == "- Les enjeux -"


def test_offsets_are_absolute_and_trimmed_with_body_start():
    text = " date 2025-03  Vladimir Poutine a parlé. Il a fini.\n"
    body_start = text.index("Vladimir")
    spans = split_sentences(text, body_start)
    assert spans == [
        Span(body_start, text.index(" Il"), "sentence"),
        Span(text.index("Il a"), text.index("fini.") + 5, "sentence"),
    ]
    assert split_sentences(text, len(text)) == []
    with pytest.raises(ValueError):
        split_sentences(text, len(text) + 1)


def test_empty_and_blank_text():
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []


# --- chunks -----------------------------------------------------------------


def test_chunk_empty():
    assert chunk_spans("", [], 10, words) == []


def test_chunks_group_until_budget_with_overlap():
    text = "Un deux trois. Quatre cinq six. Sept huit neuf. Dix onze douze."
    chunks = chunk_spans(text, split_sentences(text), 6, words)
    assert [c.text for c in chunks] == [
        "Un deux trois. Quatre cinq six.",
        "Quatre cinq six. Sept huit neuf.",
        "Sept huit neuf. Dix onze douze.",
    ]
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    assert all(c.text == text[c.start : c.end] for c in chunks)


def test_chunks_without_overlap():
    text = "Un deux trois. Quatre cinq six. Sept huit neuf. Dix onze douze."
    chunks = chunk_spans(text, split_sentences(text), 6, words, overlap_sentences=0)
    assert [c.text for c in chunks] == [
        "Un deux trois. Quatre cinq six.",
        "Sept huit neuf. Dix onze douze.",
    ]


def test_overlap_dropped_when_it_does_not_fit():
    text = "Un deux trois quatre. Cinq six sept huit. Neuf."
    chunks = chunk_spans(text, split_sentences(text), 5, words)
    assert [c.text for c in chunks] == [
        "Un deux trois quatre.",
        "Cinq six sept huit. Neuf.",
    ]


def test_overlap_never_repeats_a_whole_chunk():
    text = "Un deux trois. Quatre cinq six. Sept huit neuf."
    chunks = chunk_spans(text, split_sentences(text), 3, words, overlap_sentences=5)
    assert [c.text for c in chunks] == [
        "Un deux trois.",
        "Quatre cinq six.",
        "Sept huit neuf.",
    ]


def test_heading_starts_new_chunk_and_sticks_to_following_text():
    text = "Un deux. Trois quatre.\n- Titre -\nCinq six. Sept."
    chunks = chunk_spans(text, split_sentences(text), 50, words)
    assert [c.text for c in chunks] == [
        "Un deux. Trois quatre.",
        "- Titre -\nCinq six. Sept.",
    ]


def test_consecutive_headings_stay_together():
    text = "Intro.\n# Partie\n## Section\nTexte."
    chunks = chunk_spans(text, split_sentences(text), 50, words)
    assert [c.text for c in chunks] == ["Intro.", "# Partie\n## Section\nTexte."]


def test_long_sentence_is_split_at_whitespace_into_even_pieces():
    text = " ".join(f"mot{i}" for i in range(25)) + "."
    chunks = chunk_spans(text, split_sentences(text), 10, words)
    assert all(c.text == text[c.start : c.end] for c in chunks)
    assert all(c.text == c.text.strip() for c in chunks)
    # Three pieces either way, but no 10 + 10 + 5 runt at the end.
    assert [words(c.text) for c in chunks] == [9, 9, 7]
    assert " ".join(c.text for c in chunks) == text


def test_long_sentence_pieces_join_neighbouring_sentences():
    text = "Court. " + " ".join(f"mot{i}" for i in range(25)) + ". Fin ici."
    chunks = chunk_spans(text, split_sentences(text), 10, words, overlap_sentences=0)
    assert all(words(c.text) <= 10 for c in chunks)
    assert chunks[0].text.startswith("Court. mot0")
    assert chunks[-1].text.endswith(". Fin ici.")


def test_unsplittable_word_is_cut_by_characters():
    text = "x" * 25
    chunks = chunk_spans(text, split_sentences(text), 10, len, overlap_sentences=0)
    assert all(len(c.text) <= 10 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_invalid_budget():
    with pytest.raises(ValueError):
        chunk_spans("a", [Span(0, 1, "sentence")], 0, words)


def test_chunking_is_deterministic_and_returns_chunks():
    text = (ROOT / "seeds" / SEEDS[0]).read_text(encoding="utf-8")
    spans = split_sentences(text)
    first = chunk_spans(text, spans, 40, words)
    assert first == chunk_spans(text, spans, 40, words)
    assert all(isinstance(c, Chunk) for c in first)


# --- seed documents ---------------------------------------------------------


@pytest.mark.parametrize("name", SEEDS)
def test_seed_spans_and_chunks(name):
    text = (ROOT / "seeds" / name).read_text(encoding="utf-8")
    body_start = (
        text.index(" date 2025-03 ") + len(" date 2025-03 ") if "000_" in name else 0
    )
    spans = split_sentences(text, body_start)
    assert len(spans) > 10

    previous_end = body_start
    for span in spans:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip()
        assert span.start >= previous_end
        assert span.kind in {"sentence", "heading"}
        previous_end = span.end
    # Everything outside the spans is whitespace: nothing of the body is lost.
    covered = set().union(*(range(s.start, s.end) for s in spans))
    assert all(
        text[i].isspace() for i in range(body_start, len(text)) if i not in covered
    )

    texts = [text[s.start : s.end] for s in spans]
    assert [s for s in spans if "M. Poutine" in text[s.start : s.end]]
    assert not any(t.endswith(" M.") for t in texts)
    if "000_" in name:
        assert texts[0].startswith("Vladimir Poutine a appelé")
        headings = [t for s, t in zip(spans, texts, strict=True) if s.kind == "heading"]
        assert headings == [
            '- "optimisme prudent" -',
            "- Les bombardements continuent -",
        ]
        assert any(
            t.startswith("\"S'ils déposent") and "M. Poutine, qui" in t for t in texts
        )
    else:
        assert "\"M. Poutine a déclaré qu'il soutenait la position" in " ".join(texts)

    chunks = chunk_spans(text, spans, 60, words)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    chunk_cover: set[int] = set()
    for before, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.text == text[chunk.start : chunk.end]
        assert words(chunk.text) <= 60
        if before is not None:
            assert chunk.start > before.start and chunk.end > before.end
        chunk_cover.update(range(chunk.start, chunk.end))
    # Only the whitespace where an over-long sentence was cut may be left out.
    assert {i for i in covered if not text[i].isspace()} <= chunk_cover
    for span in spans:
        if span.kind == "heading":
            assert any(c.start == span.start for c in chunks)
